"""The layers of docs/architecture.md, checked on the source: every import of every file
under src/centime (at module level and inside functions alike) is read from its syntax
tree, and

- no two files import each other, directly or around a longer loop;
- each rule of ``RULES`` holds: a layer imports nothing it may not see;
- ``import centime.client`` in a fresh interpreter loads no server module.

Imports under ``if TYPE_CHECKING:`` are left out: they never run, and they are how a module
names a type without depending on its module at run time.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

SRC: Final = Path(__file__).resolve().parents[1] / "src"
PACKAGE: Final = SRC / "centime"

# What the client and the wire may load of centime (besides the package itself): the
# contract and the values it is written in, nothing of the server.
CLIENT_SIDE: Final = (
    "centime.client",
    "centime.wire",
    "centime.money",
    "centime.limits",
    "centime.version",
)


def client_side(name: str) -> bool:
    return name == "centime" or within(name, CLIENT_SIDE)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def within(name: str, roots: tuple[str, ...]) -> bool:
    """``name`` is one of ``roots`` or inside one of them (a package's module)."""
    return any(name == root or name.startswith(root + ".") for root in roots)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                yield from _import_nodes_of(child)
        else:
            yield from _import_nodes_of(node)


def _import_nodes_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _import_nodes(node)


def _base_of(node: ast.ImportFrom, name: str, is_package: bool) -> str:
    """The absolute module a ``from`` import names (relative ones resolved)."""
    if node.level == 0:
        return node.module or ""
    package = name if is_package else name.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imports_of(path: Path, modules: frozenset[str]) -> set[str]:
    """The centime modules ``path`` imports: ``from pkg import mod`` names ``pkg.mod``
    when that is a module, else ``pkg`` itself."""
    name = module_name(path)
    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = _base_of(node, name, path.name == "__init__.py")
        for alias in node.names:
            found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {m for m in found if within(m, ("centime",)) and m != name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = frozenset(module_name(p) for p in paths)
    return {module_name(p): imports_of(p, modules) & modules for p in paths}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each as one
    loop through it, in import order, to show."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(_loop(graph, set(component)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _loop(graph: Mapping[str, set[str]], component: set[str]) -> list[str]:
    """A shortest import loop from the component's first module back to itself."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        step = []
        for node in frontier:
            for target in sorted(graph[node] & component):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    step.append(target)
        frontier = step
    raise AssertionError(f"no loop through {start}")  # a component always has one


@dataclass(frozen=True)
class Rule:
    """Modules within ``importers`` may import a centime module only if ``allowed`` says so."""

    why: str
    importers: tuple[str, ...]
    allowed: Callable[[str], bool]


_OUTER: Final = (
    "centime.store",
    "centime.platform",
    "centime.usecases",
    "centime.api",
    "centime.http",
    "centime.web",
    "centime.openpayments",
    "centime.server",
    "centime.app",
    "centime.cli",
)

PLATFORM: Final = PACKAGE / "platform"
# The platform's shared kernel (the modules at its top level: the Platform, configuration,
# errors, ids, pages, the chart of accounts, fees) and its bounded contexts (its packages).
KERNEL: Final = tuple(
    f"centime.platform.{path.stem}"
    for path in sorted(PLATFORM.glob("*.py"))
    if path.stem != "__init__"
)
CONTEXTS: Final = tuple(
    f"centime.platform.{path.parent.name}" for path in sorted(PLATFORM.glob("*/__init__.py"))
)
_DELIVERY: Final = (
    "centime.api",
    "centime.web",
    "centime.http",
    "centime.server",
    "centime.cli",
    "centime.app",
    "centime.usecases",
)

RULES: Final = (
    Rule(
        "the ledger and the audit log own their ports: no adapter, service or delivery",
        ("centime.ledger", "centime.audit"),
        lambda target: not within(target, _OUTER),
    ),
    Rule(
        "the web pages and Open Payments share centime.http with the API, never its internals",
        ("centime.web", "centime.openpayments"),
        lambda target: not within(target, ("centime.api",)),
    ),
    Rule(
        "the platform's kernel imports none of its contexts",
        KERNEL,
        lambda target: not within(target, CONTEXTS),
    ),
    Rule(
        "the platform's contexts import no delivery (routes, pages, use cases, composition)",
        CONTEXTS,
        lambda target: not within(target, _DELIVERY),
    ),
    Rule(
        "the wire and the client load no server module",
        ("centime.wire", "centime.client"),
        client_side,
    ),
)


def broken(graph: Mapping[str, set[str]], rule: Rule) -> list[str]:
    return [
        f"{importer} imports {target}"
        for importer, targets in sorted(graph.items())
        if within(importer, rule.importers)
        for target in sorted(targets)
        if not rule.allowed(target)
    ]


GRAPH: Final = import_graph()


def test_the_graph_sees_imports_of_every_kind() -> None:
    """The walk finds module-level, relative and in-function imports (else the checks
    below would pass on an empty graph)."""
    assert "centime.wire.common" in GRAPH["centime.wire.parties"]  # relative, module level
    assert "centime.client" in GRAPH["centime"]  # inside a function
    assert len(GRAPH) > 200


def test_no_import_cycle_between_files() -> None:
    found = cycles(GRAPH)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(loop) for loop in found)


def test_cycles_are_found_and_shown() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.why)
def test_layer_rule(rule: Rule) -> None:
    assert not broken(GRAPH, rule), rule.why + ":\n" + "\n".join(broken(GRAPH, rule))


def test_the_platform_has_a_kernel_and_contexts() -> None:
    """The platform rules see its modules (else they would hold on nothing)."""
    assert "centime.platform.context" in KERNEL
    assert "centime.platform.pricing" in CONTEXTS
    assert len(CONTEXTS) > 1


def test_a_rule_names_what_breaks_it() -> None:
    graph = {"centime.web.pages": {"centime.api.state", "centime.http.problems"}}
    assert broken(graph, RULES[1]) == ["centime.web.pages imports centime.api.state"]


def test_the_client_loads_no_server_module() -> None:
    """In a fresh interpreter: a client user does not load (nor need) the server."""
    code = "import centime.client, sys; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    loaded = [m for m in out if within(m, ("centime",))]
    assert "centime.client" in loaded
    assert [m for m in loaded if not client_side(m)] == []
