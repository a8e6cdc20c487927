"""The HTTP API (Litestar + msgspec). ``create_app`` builds it; the REST API issue extends it."""

from .app import create_app

__all__ = ["create_app"]
