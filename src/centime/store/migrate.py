"""Schema migrations: bring a database to the newest schema with Alembic.

``centime db upgrade`` and every store's ``open`` call :func:`upgrade`; it is idempotent.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, pool, text

__all__ = ["alembic_config", "sqlalchemy_url", "upgrade"]

_MIGRATIONS = Path(__file__).with_name("migrations")


def sqlalchemy_url(database_url: str) -> str:
    """The SQLAlchemy spelling of a centime database URL (psycopg 3 for PostgreSQL)."""
    if database_url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + database_url.split("://", 1)[1]
    return database_url


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` (the newest by default)."""
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Processes starting together (several API workers, `centime db upgrade`
                # beside them) migrate one at a time: a lock per schema, held until commit.
                connection.execute(
                    text(
                        "SELECT pg_advisory_xact_lock(hashtext('centime.migrate:'"
                        " || coalesce(current_schema(), '')))"
                    )
                )
            config = alembic_config(database_url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()
