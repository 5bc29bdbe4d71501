"""The shape of `src/levante` as its imports draw it (issue 10, point 3).

Read with `ast`, not by importing: every `import` and `from ... import` counts, at module
level and inside functions alike (an import inside a function hides a cycle, it does not
remove it). Relative imports are resolved, and `from pkg import name` counts as an import
of `pkg.name` when that is a module. The test fails, naming the modules, on:

- an import cycle among `src` modules;
- an engine module importing the platform, or a platform module importing the engine
  (both import `levante.contract` instead);
- an import inside a function without the marker `LAZY_MARKER` on its line or the line
  above: such imports are allowed only where they keep a CLI start fast.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "levante"
LAZY_MARKER = "# lazy: keeps CLI start fast"
SEPARATED = (("levante.engine", "levante.platform"), ("levante.platform", "levante.engine"))


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (of `src` when `internal`, else as written)
    line: int
    in_function: bool
    marked: bool
    internal: bool = True


def module_names() -> dict[str, Path]:
    """Every module of the package: dotted name -> file (`pkg/__init__.py` is `pkg`)."""
    found: dict[str, Path] = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of `from <level dots><target> import ...` written in `module`."""
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([target] if target else [])])


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of `name` that is a module of `src` (`a.b.func` -> `a.b`)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, path: Path, modules: dict[str, Path]) -> None:
        self.module = module
        self.is_package = path.name == "__init__.py"
        self.modules = modules
        self.lines = path.read_text(encoding="utf-8").splitlines()
        self.depth = 0
        self.found: list[Import] = []

    def _marked(self, line: int) -> bool:
        here = self.lines[line - 1] if line <= len(self.lines) else ""
        above = self.lines[line - 2] if line >= 2 else ""
        return LAZY_MARKER in here or above.strip().startswith(LAZY_MARKER)

    def _add(self, target: str | None, node: ast.stmt, written: str) -> None:
        if any(e.line == node.lineno and e.target in (target, written) for e in self.found):
            return  # `from a import b, c`: one import of `a`
        if target and target != self.module:
            self.found.append(Import(self.module, target, node.lineno, self.depth > 0,
                                     self._marked(node.lineno)))
        elif target is None and self.depth > 0:  # outside `src`: only its place counts
            self.found.append(Import(self.module, written, node.lineno, True,
                                     self._marked(node.lineno), internal=False))

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function
    visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        # `if TYPE_CHECKING:` imports are for the type checker only: no edge at run time.
        test = node.test
        name = test.id if isinstance(test, ast.Name) else (
            test.attr if isinstance(test, ast.Attribute) else "")
        if name == "TYPE_CHECKING":
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(_known(alias.name, self.modules), node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = _resolve(self.module, self.is_package, node.level, node.module)
        for alias in node.names:
            full = f"{base}.{alias.name}"
            self._add(full if full in self.modules else _known(base, self.modules), node,
                      base)


def imports() -> list[Import]:
    modules = module_names()
    found: list[Import] = []
    for name, path in modules.items():
        collector = _Collector(name, path, modules)
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        found.extend(collector.found)
    return found


def cycles(edges: list[Import]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for edge in (e for e in edges if e.internal):
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        # Iterative, so that a deep chain of modules cannot exceed the recursion limit.
        nonlocal counter
        work: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _where(edge: Import) -> str:
    kind = "in a function" if edge.in_function else "at module level"
    return f"{edge.source}:{edge.line} imports {edge.target} ({kind})"


def test_the_walk_sees_imports_of_every_kind() -> None:
    """The walker itself: a module-level, a relative and a function-level import are seen
    (so the checks below cannot pass by seeing nothing)."""
    edges = imports()
    assert len(module_names()) > 50
    assert any(not e.in_function for e in edges)
    assert any(e.in_function for e in edges)
    assert _resolve("levante.engine.api.app", False, 2, "store") == "levante.engine.store"
    assert _resolve("levante.engine", True, 1, "store") == "levante.engine.store"
    graph = [Import("a", "b", 1, False, False), Import("b", "c", 1, True, False),
             Import("c", "a", 1, False, False), Import("c", "d", 1, False, False)]
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycle() -> None:
    edges = imports()
    found = cycles(edges)
    lines = []
    for component in found:
        members = set(component)
        lines.append(f"cycle among {len(component)} modules: {', '.join(component)}")
        lines.extend(f"    {_where(e)}" for e in edges
                     if e.source in members and e.target in members)
    assert not found, "import cycles in src:\n" + "\n".join(lines)


def test_engine_and_platform_do_not_import_each_other() -> None:
    crossing = [e for e in imports() if e.internal for side, other in SEPARATED
                if _within(e.source, side) and _within(e.target, other)]
    assert not crossing, ("the engine and the platform import each other (both should "
                          "import levante.contract instead):\n"
                          + "\n".join(f"    {_where(e)}" for e in crossing))


def test_imports_in_functions_say_why() -> None:
    unmarked = [e for e in imports() if e.in_function and not e.marked]
    assert not unmarked, (
        f"imports inside functions are allowed only to keep a CLI start fast, with "
        f"`{LAZY_MARKER}` on the line or the line above:\n"
        + "\n".join(f"    {_where(e)}" for e in unmarked))
