"""All SQL of a service is in its store modules (issue 10, point 6; docs/architecture.md,
"Rules of the code").

Read with `ast`, not by importing. A module that is not a store fails the test, named by
file and line, when it takes a statement-building name of SQLAlchemy (`select`,
`insert`, `func`, `text`, `and_`...): by ``from sqlalchemy[.sql|.dialects.x...] import
name``, or as an attribute of an imported SQLAlchemy module (``sa.select``); or a table,
by importing a ``tables`` or ``models`` module or a name of one (``executions.update()``
or ``executions.c.id == x`` build SQL with no SQLAlchemy name). What it may take is
everything else: `Engine`, `Connection`, `event`, the exceptions, `make_url`.

Stores are: modules named ``store.py``; modules inside a package named ``store``;
``tables.py``, ``models.py`` and ``<what>_models.py`` (they declare the schema:
`levante.engine.definitions_models`); everything under
``levante/db/`` (connections, migrations, the list of models); and the few modules of
`ALLOWED`, each with the reason it holds SQL that is no service's own.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "levante"

SQL_NAMES = frozenset({
    "select", "insert", "update", "delete", "text", "func", "and_", "or_", "not_",
    "bindparam", "literal", "literal_column", "union", "union_all", "exists", "case",
    "cast", "tuple_", "null", "true", "false",
})
SCHEMA_MODULES = ("tables", "models")  # and "<what>_tables", "<what>_models"
STORE_PACKAGE = "store"
SCHEMA_TREE = ("levante", "db")

# Path under `src` -> why its SQL is no service's own (keep this list short).
ALLOWED: dict[str, str] = {}


def _is_sqlalchemy(module: str) -> bool:
    return module == "sqlalchemy" or module.startswith("sqlalchemy.")


def _is_schema(module: str) -> bool:
    """Whether `module` (a dotted name as written, relative or not, or a file's stem)
    declares tables."""
    last = module.rsplit(".", 1)[-1]
    return last in SCHEMA_MODULES or last.endswith(tuple(f"_{m}" for m in SCHEMA_MODULES))


def is_store(relative: Path) -> bool:
    """Whether the module at `relative` (a path under `src`) may build SQL."""
    parts = relative.parts
    return (relative.name == "store.py" or STORE_PACKAGE in parts[:-1]
            or _is_schema(relative.stem) or parts[:len(SCHEMA_TREE)] == SCHEMA_TREE
            or relative.as_posix() in ALLOWED)


def sql_uses(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """``(line, what)`` of each statement-building name the module takes from SQLAlchemy,
    wherever the import is (module level, a function, ``if TYPE_CHECKING``)."""
    aliases: dict[str, str] = {}  # local name -> the SQLAlchemy module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (
                node.module or "").startswith(PACKAGE + ".")):
            written = "." * node.level + (node.module or "")
            for alias in node.names:
                if _is_schema(written) or _is_schema(alias.name):
                    yield node.lineno, f"from {written} import {alias.name} (a table)"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE + ".") and _is_schema(alias.name):
                    yield node.lineno, f"import {alias.name} (a table)"
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                _is_sqlalchemy(node.module):
            for alias in node.names:
                if alias.name in SQL_NAMES:
                    yield node.lineno, f"from {node.module} import {alias.name}"
                elif alias.name != "*":
                    # `from sqlalchemy import sql` / `from sqlalchemy.dialects import
                    # postgresql`: a module whose attributes are looked at below.
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _is_sqlalchemy(alias.name):
                    # `import sqlalchemy.sql` binds `sqlalchemy`; `... as sa` binds `sa`.
                    local = alias.asname or alias.name.split(".")[0]
                    aliases[local] = alias.name if alias.asname else "sqlalchemy"
    if not aliases:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in SQL_NAMES:
            base = node.value
            dotted = [node.attr]
            while isinstance(base, ast.Attribute):
                dotted.append(base.attr)
                base = base.value
            if isinstance(base, ast.Name) and base.id in aliases:
                dotted.append(base.id)
                yield node.lineno, ".".join(reversed(dotted))


def modules() -> Iterator[tuple[Path, ast.Module]]:
    """Every module of the package: its path under `src` and its tree."""
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        yield path.relative_to(SRC), ast.parse(path.read_text(encoding="utf-8"), str(path))


def offenders() -> list[str]:
    return [f"{relative}:{line}: {what}" for relative, tree in modules()
            if not is_store(relative) for line, what in sorted(set(sql_uses(tree)))]


def test_the_walk_sees_each_way_to_take_sql() -> None:
    """The walker itself, on a sample that takes SQL each way once (and harmless names
    that look alike), so the check below cannot pass by seeing nothing."""
    sample = ast.parse(
        "import sqlalchemy as sa\n"
        "import sqlalchemy.sql\n"
        "from sqlalchemy import Engine, select\n"
        "from sqlalchemy.exc import IntegrityError\n"
        "from sqlalchemy.dialects.postgresql import insert as pg_insert\n"
        "from sqlalchemy.dialects import sqlite\n"
        "from levante.platform.core.models import executions\n"
        "from levante.platform.rules import tables\n"
        "from .tables import rules\n"
        "from levante.platform.stream import changes\n"
        "import levante.engine.definitions_models\n"
        "def f(rows, conn):\n"
        "    from sqlalchemy.sql import func\n"
        "    rows.update()\n"
        "    conn.text\n"
        "    sqlite.insert\n"
        "    return sa.text('x'), sqlalchemy.sql.and_, sa.Engine\n")
    assert sorted(sql_uses(sample)) == [
        (3, "from sqlalchemy import select"),
        (5, "from sqlalchemy.dialects.postgresql import insert"),
        (7, "from levante.platform.core.models import executions (a table)"),
        (8, "from levante.platform.rules import tables (a table)"),
        (9, "from .tables import rules (a table)"),
        (11, "import levante.engine.definitions_models (a table)"),
        (13, "from sqlalchemy.sql import func"),
        (16, "sqlite.insert"),
        (17, "sa.text"),
        (17, "sqlalchemy.sql.and_"),
    ]
    assert list(sql_uses(ast.parse("from sqlalchemy import Engine, event\n"))) == []
    assert is_store(Path("levante/platform/rules/store.py"))
    assert is_store(Path("levante/engine/store/outbox.py"))
    assert is_store(Path("levante/platform/rules/tables.py"))
    assert is_store(Path("levante/engine/definitions_models.py"))
    assert is_store(Path("levante/db/migrations/versions/0001_x.py"))
    assert not is_store(Path("levante/platform/rules/service.py"))
    assert not is_store(Path("levante/platform/storefront.py"))
    assert sum(1 for _ in modules()) > 50


def test_every_allowed_module_exists() -> None:
    """A stale entry would let a new module of the same path build SQL unseen."""
    missing = [p for p in ALLOWED if not (SRC / p).is_file()]
    assert not missing, missing


def test_sql_is_built_only_in_store_modules() -> None:
    found = offenders()
    assert not found, (
        "SQL built outside a store module (move the statement into the feature's "
        "store.py as a named function, or list the module in ALLOWED with why):\n"
        + "\n".join(f"    {o}" for o in found))
