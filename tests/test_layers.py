"""The layers of issue 14: an inner package never imports an outer one.

Read from the source, not from a running interpreter: every ``import`` and ``from ... import``
of every module under a package counts, those under ``if TYPE_CHECKING:`` and inside
functions included, relative ones resolved against the module's package. Each row of
:data:`RULES` names a package and the module prefixes it must not import; a new rule is a
new row.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import centime

SOURCE = Path(centime.__file__).parent

_OUTER = ("centime.store", "centime.platform", "centime.api", "centime.web")

# (package, prefixes of the modules that none of its modules may import)
RULES: list[tuple[str, tuple[str, ...]]] = [
    ("centime.ledger", _OUTER),
    ("centime.audit", _OUTER),
]


def module_name(path: Path) -> str:
    """``.../centime/ledger/engine.py`` -> ``centime.ledger.engine`` (a package's
    ``__init__.py`` is the package itself)."""
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(
    source: str, module: str, is_package: bool = False
) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, the code of ``module``."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from centime import store`` imports centime.store: name every alias too.
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    folder = SOURCE.parent.joinpath(*package.split("."))
    found = []
    for path in sorted(folder.rglob("*.py")):
        module = module_name(path)
        imports = imported_modules(path.read_text(), module, path.name == "__init__.py")
        for line, name in imports:
            if any(_matches(name, prefix) for prefix in forbidden):
                found.append(f"{path.relative_to(SOURCE.parent)}:{line} imports {name}")
    return found


@pytest.mark.parametrize(("package", "forbidden"), RULES, ids=[rule[0] for rule in RULES])
def test_package_imports_no_outer_layer(package: str, forbidden: tuple[str, ...]) -> None:
    folder = SOURCE.parent.joinpath(*package.split("."))
    assert any(folder.rglob("*.py")), f"{package} has no modules: the rule checks nothing"
    assert violations(package, forbidden) == []


def test_relative_and_absolute_imports_are_resolved() -> None:
    source = (
        "from __future__ import annotations\n"
        "import centime.store.sqlite\n"
        "from .. import store\n"
        "from ..platform.context import Platform\n"
        "from .port import LedgerStore\n"
        "def later() -> None:\n"
        "    from centime import api\n"
    )
    names = {name for _, name in imported_modules(source, "centime.ledger.engine")}
    assert {
        "centime.store.sqlite",
        "centime.store",
        "centime.platform.context",
        "centime.ledger.port",
        "centime.api",
    } <= names


def test_a_forbidden_import_is_reported() -> None:
    """The walker sees the store importing the ledger's port: it would see the reverse."""
    found = violations("centime.store", ("centime.ledger.port",))
    assert any(entry.startswith("centime/store/sqlite.py:") for entry in found)
