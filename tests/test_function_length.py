"""No function in src/centime is over 70 lines (the charter's short functions); the
migrations are left out: each is one schema step, written once and never changed."""

from __future__ import annotations

import ast
from pathlib import Path

import centime

FUNCTION_LINES_MAX = 70
SOURCE = Path(centime.__file__).parent
SKIPPED = SOURCE / "store" / "migrations"


def too_long(source: Path) -> list[str]:
    """Each function of the tree under ``source`` longer than the limit, as path:line name."""
    found = []
    for path in sorted(source.rglob("*.py")):
        if path.is_relative_to(SKIPPED):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > FUNCTION_LINES_MAX:
                where = path.relative_to(source.parent)
                found.append(f"{where}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_is_over_70_lines() -> None:
    assert too_long(SOURCE) == []


def test_the_walk_finds_a_long_function(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(FUNCTION_LINES_MAX))
    (tmp_path / "long.py").write_text(f"async def long() -> None:\n{body}")
    (tmp_path / "short.py").write_text("def short() -> None:\n    pass\n")
    assert too_long(tmp_path) == [f"{tmp_path.name}/long.py:1 long (71 lines)"]
