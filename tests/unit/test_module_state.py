"""No module-level state is changed after import (docs/architecture.md, "Settings and state").

What a process keeps lives on objects: a service's settings on the service, what a
process keeps about a database on the engine's `Local` (`levante.db.local`). Read with
`ast`, not by importing; the test fails, naming file and line, on:
- a ``global`` statement;
- a function that changes a module-level name: an item or attribute set or deleted,
  an augmented assignment, a mutating method (``append``, ``clear``, ``update``...),
  ``next()`` of a module-level counter;
- a lock, a thread pool, a counter or a weak dictionary made at module level (each is
  the sign of state shared by the whole process);
- a memo (``functools.cache`` / ``lru_cache``) on a function that is not listed below
  as pure: a memo of a function whose answer depends on its arguments alone holds no
  state anyone can observe, but one over the configuration or the database would.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "levante"

MUTATORS = frozenset({
    "append", "extend", "insert", "remove", "pop", "popitem", "clear", "update",
    "setdefault", "add", "discard", "sort", "reverse", "put", "put_nowait",
})

STATEFUL_CONSTRUCTORS = frozenset({
    "Lock", "RLock", "Event", "Condition", "Semaphore", "BoundedSemaphore",
    "ThreadPoolExecutor", "ProcessPoolExecutor", "count", "WeakKeyDictionary",
    "WeakValueDictionary", "WeakSet", "local", "Queue",
})

# module:function -> why its memo holds no state anyone can observe: the answer depends on
# the arguments alone (a parse, a compile), or it is a constant of the installed package
# that is made at its first use rather than at import (a file read, a bcrypt round).
PURE_MEMOS: dict[str, str] = {
    "levante.engine.expressions.regexes:_compile": "a regular expression, compiled",
    "levante.engine.expressions.evaluator:plan": "the plan of an expression's text",
    "levante.engine.expressions.yaql_lang:compile_yaql": "a YAQL expression, parsed",
    "levante.engine.expressions.jinja_lang:compile_template": "a Jinja template, parsed",
    "levante.engine.expressions.jinja_lang:compile_expression": "a Jinja expression, "
                                                                "parsed",
    "levante.engine.actions.http:_ssl_context": "an SSL context for a `verify` value",
    "levante.engine.languages.graph:_workflow_from_json": "a stored graph, parsed",
    "levante.engine.store.executions:_insert_plan": "a table's INSERT for a dialect",
    "levante.engine.store.executions:_update_plan": "a table's UPDATE of some columns",
    "levante.engine.api.http:field_names": "the fields an API encoder makes",
    "levante.engine.actions.base:_networks_cached": "networks, parsed from their text",
    "levante.engine.store.queries:workbooks_listing": "a listing's statement parts",
    "levante.engine.store.queries:workflows_listing": "a listing's statement parts",
    "levante.engine.store.queries:actions_listing": "a listing's statement parts",
    "levante.engine.store.queries:environments_listing": "a listing's statement parts",
    "levante.engine.store.queries:cron_triggers_listing": "a listing's statement parts",
    "levante.engine.store.queries:executions_listing": "a listing's statement parts",
    "levante.engine.store.queries:tasks_listing": "a listing's statement parts",
    "levante.engine.store.queries:action_executions_listing": "a listing's statement parts",
    "levante.st2_functions.jsonpath:_parsed": "a JSONPath expression, parsed",
    "levante.st2_functions.bounds:compile_pattern": "a regular expression, compiled",
    "levante.platform.rules.criteria:path_parts": "a dotted path, split",
    "levante.platform.logins.users:_dummy": "the hash checked for an unknown user",
    "levante.web:page": "the UI's page, read from the package",
    "levante.db.schema_guard:head_revision": "the head of the package's migrations",
}


def _modules() -> Iterator[tuple[str, Path, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path, ast.parse(path.read_text(), str(path))


def _module_names(tree: ast.Module) -> set[str]:
    """Names bound by assignments at module level (not defs, classes or imports)."""
    names: set[str] = set()
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        for target in targets:
            for found in ast.walk(target):
                if isinstance(found, ast.Name):
                    names.add(found.id)
    return names


def _call_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id
        if isinstance(func, ast.Attribute):
            return func.attr
    return ""


def _base_name(node: ast.expr) -> str | None:
    """`x` of `x`, `x[...]`, `x.attr`, `x[...].attr`..."""
    while isinstance(node, ast.Subscript | ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _local_names(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Names a function binds itself (parameters, assignments): they hide module names."""
    args = func.args
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _changes(func: ast.FunctionDef | ast.AsyncFunctionDef,
             module_names: set[str]) -> Iterator[tuple[int, str]]:
    shadowed = _local_names(func)
    watched = module_names - shadowed
    for node in ast.walk(func):
        if isinstance(node, ast.Global):
            yield node.lineno, f"global {', '.join(node.names)}"
        elif isinstance(node, ast.Subscript | ast.Attribute) and \
                isinstance(node.ctx, ast.Store | ast.Del):
            name = _base_name(node)
            if name in watched:
                yield node.lineno, f"sets or deletes a part of module-level {name!r}"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in MUTATORS:
            name = _base_name(node.func.value)
            if name in watched:
                yield node.lineno, f"{name}.{node.func.attr}() changes module-level state"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id == "next" and node.args and \
                isinstance(node.args[0], ast.Name) and node.args[0].id in watched:
            yield node.lineno, f"next({node.args[0].id}) advances a module-level counter"


def _memo_name(decorator: ast.expr) -> str:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


def _problems() -> list[str]:
    problems: list[str] = []
    for module, path, tree in _modules():
        where = path.relative_to(SRC.parent)
        names = _module_names(tree)
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None and \
                    _call_name(node.value) in STATEFUL_CONSTRUCTORS:
                problems.append(f"{where}:{node.lineno}: {_call_name(node.value)}() made "
                                f"at module level (state of the whole process)")
        for found in ast.walk(tree):
            if isinstance(found, ast.FunctionDef | ast.AsyncFunctionDef):
                for line, what in _changes(found, names):
                    problems.append(f"{where}:{line}: {found.name}: {what}")
        for statement in tree.body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                    _memo_name(d) in {"cache", "lru_cache"}
                    for d in statement.decorator_list) and \
                    f"{module}:{statement.name}" not in PURE_MEMOS:
                problems.append(f"{where}:{statement.lineno}: {statement.name}: a memo at "
                                f"module level (list it in PURE_MEMOS if it is pure)")
    return sorted(set(problems))


def test_the_walk_sees_each_kind_of_change() -> None:
    """The checker itself, on a sample that does each thing once."""
    sample = ast.parse(
        "import threading\n"
        "_lock = threading.Lock()\n"
        "_seen = {}\n"
        "_count = 0\n"
        "def f(key):\n"
        "    global _count\n"
        "    _seen[key] = 1\n"
        "    _seen.clear()\n"
        "def g(_seen):\n"
        "    _seen.clear()\n")
    names = _module_names(sample)
    assert names == {"_lock", "_seen", "_count"}
    funcs = [n for n in sample.body if isinstance(n, ast.FunctionDef)]
    assert [what for _, what in _changes(funcs[0], names)] == [
        "global _count", "sets or deletes a part of module-level '_seen'",
        "_seen.clear() changes module-level state"]
    assert list(_changes(funcs[1], names)) == []  # a parameter of the same name
    assert _call_name(sample.body[1].value) == "Lock"  # type: ignore[attr-defined]


def test_no_module_level_state_is_changed_after_import() -> None:
    problems = _problems()
    assert not problems, "module-level state (keep it on an object):\n" + "\n".join(problems)


def test_every_listed_pure_memo_exists() -> None:
    """A stale entry would hide a new memo of the same name."""
    found = {f"{module}:{node.name}" for module, _path, tree in _modules()
             for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert set(PURE_MEMOS) <= found, sorted(set(PURE_MEMOS) - found)
