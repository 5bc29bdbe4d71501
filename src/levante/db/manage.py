"""The database lifecycle: upgrade, downgrade, stamp, current, history and drift check.

Plain functions over a database URL; `levante-db-manage` is a thin CLI over them.
Migrations are the only code that changes the schema.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

from levante.db.connect import make_engine, normalize_url, sqlite_path
from levante.db.metadata import all_metadata
from levante.db.schema_guard import (
    MIGRATIONS_DIR,
    UPGRADE_COMMAND,
    VERSION_TABLE,
    DatabaseStateError,
)

_LOCK_KEY = 7435126


class UnmanagedTables(DatabaseStateError):
    """Tables exist but no revision is recorded: upgrading would collide with them."""

    def __init__(self, tables: list[str], matching_revision: str | None) -> None:
        self.tables = tables
        self.matching_revision = matching_revision
        listing = ", ".join(tables)
        if matching_revision:
            advice = (
                f"they match revision {matching_revision}: if this database was made by "
                f"Levante, record that with `levante-db-manage stamp {matching_revision}`, "
                f"then run `{UPGRADE_COMMAND}`"
            )
        else:
            advice = (
                "they match no known revision: move them out of the way or use an empty "
                "database"
            )
        super().__init__(
            f"refusing to upgrade: the database has tables but no recorded revision "
            f"({listing}); {advice}. Nothing was changed."
        )


def _alembic_config(url: str, connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig(stdout=io.StringIO())
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def script_directory() -> ScriptDirectory:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg)


def head_revision() -> str:
    head = script_directory().get_current_head()
    if head is None:
        raise DatabaseStateError("no migrations found")
    return head


@contextlib.contextmanager
def _migration_lock(url: str, engine: Engine) -> Iterator[None]:
    """Serialise schema changes: a file lock on SQLite, an advisory lock on PostgreSQL.

    The lock covers reading the current revision too, so that a second upgrade started
    at the same time waits, then finds the work done.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({_LOCK_KEY})")
            conn.commit()
            try:
                yield
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_LOCK_KEY})")
                conn.commit()
        return
    path = sqlite_path(normalize_url(url))
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".migrate-lock")
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def user_tables(conn: Connection) -> list[str]:
    return sorted(t for t in inspect(conn).get_table_names() if t != VERSION_TABLE)


def _table_shapes(conn: Connection) -> dict[str, frozenset[str]]:
    inspector = inspect(conn)
    return {
        t: frozenset(c["name"] for c in inspector.get_columns(t)) for t in user_tables(conn)
    }


def matching_revision(shapes: dict[str, frozenset[str]]) -> str | None:
    """The known revision whose tables and columns are exactly `shapes`, if any."""
    scratch = make_engine("sqlite://")
    try:
        revisions = list(reversed(list(script_directory().walk_revisions())))
        for rev in revisions:
            with scratch.begin() as conn:
                command.upgrade(_alembic_config("sqlite://", conn), rev.revision)
            with scratch.connect() as conn:
                if _table_shapes(conn) == shapes:
                    return str(rev.revision)
        return None
    finally:
        scratch.dispose()


def upgrade(url: str, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade to `revision`; returns (revision before, revision after)."""
    engine = make_engine(url)
    try:
        with _migration_lock(url, engine):
            before = current_revision(engine)
            if before is None:
                with engine.connect() as conn:
                    tables = user_tables(conn)
                    if tables:
                        raise UnmanagedTables(tables, matching_revision(_table_shapes(conn)))
            with engine.begin() as conn:
                command.upgrade(_alembic_config(url, conn), revision)
            return before, current_revision(engine)
    finally:
        engine.dispose()


def upgrade_sql(url: str, revision: str = "head") -> str:
    """The SQL an upgrade would run, without touching the database (`upgrade --sql`)."""
    cfg = _alembic_config(url)
    buffer = io.StringIO()
    cfg.output_buffer = buffer
    command.upgrade(cfg, revision if ":" in revision else f"base:{revision}", sql=True)
    return buffer.getvalue()


def downgrade(url: str, revision: str) -> tuple[str | None, str | None]:
    engine = make_engine(url)
    try:
        with _migration_lock(url, engine):
            before = current_revision(engine)
            with engine.begin() as conn:
                command.downgrade(_alembic_config(url, conn), revision)
            return before, current_revision(engine)
    finally:
        engine.dispose()


def stamp(url: str, revision: str) -> str | None:
    engine = make_engine(url)
    try:
        with _migration_lock(url, engine), engine.begin() as conn:
            command.stamp(_alembic_config(url, conn), revision)
        return current_revision(engine)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class RevisionInfo:
    revision: str
    down_revision: str | None
    message: str
    is_head: bool
    is_current: bool


def history(url: str | None = None) -> list[RevisionInfo]:
    """Every revision, newest first, marking the head and the database's current one."""
    current = None
    if url is not None:
        engine = make_engine(url)
        try:
            current = current_revision(engine)
        finally:
            engine.dispose()
    head = head_revision()
    out = []
    for rev in script_directory().walk_revisions():
        down = rev.down_revision
        out.append(
            RevisionInfo(
                revision=str(rev.revision),
                down_revision=down if isinstance(down, str) or down is None else ",".join(down),
                message=(rev.doc or "").strip().splitlines()[0] if rev.doc else "",
                is_head=rev.revision == head,
                is_current=rev.revision == current,
            )
        )
    return out


def _describe_diff(diff: Any) -> list[str]:
    """Turn one entry of alembic's compare_metadata into readable lines."""
    if isinstance(diff, list):
        return [line for item in diff for line in _describe_diff(item)]
    kind = diff[0]
    if kind == "add_table":
        return [f"missing table: {diff[1].name}"]
    if kind == "remove_table":
        return [f"extra table: {diff[1].name}"]
    if kind == "add_column":
        return [f"missing column: {diff[2]}.{diff[3].name}"]
    if kind == "remove_column":
        return [f"extra column: {diff[2]}.{diff[3].name}"]
    if kind in ("add_index", "remove_index"):
        index = diff[1]
        cols = ", ".join(c.name for c in index.columns) or "expressions"
        label = "missing" if kind == "add_index" else "extra"
        return [f"{label} index: {index.name} on {index.table.name}({cols})"]
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        constraint = diff[1]
        label = "missing" if kind.startswith("add") else "extra"
        cols = ", ".join(c.name for c in constraint.columns)
        what = "foreign key" if kind.endswith("fk") else "constraint"
        return [f"{label} {what}: {constraint.name} on {constraint.table.name}({cols})"]
    if kind == "modify_type":
        _, _, table, column, _, db_type, model_type = diff
        return [f"different column: {table}.{column} has type {db_type}, expected {model_type}"]
    if kind == "modify_nullable":
        _, _, table, column, _, db_null, model_null = diff
        want = "nullable" if model_null else "NOT NULL"
        have = "nullable" if db_null else "NOT NULL"
        return [f"different column: {table}.{column} is {have}, expected {want}"]
    if kind == "modify_default":
        return [f"different column: {diff[2]}.{diff[3]} has another server default"]
    return [f"different: {diff!r}"]


def check(url: str) -> list[str]:
    """Every way the database differs from head and the models; empty when it matches."""
    engine = make_engine(url)
    problems: list[str] = []
    try:
        head = head_revision()
        current = current_revision(engine)
        if current != head:
            problems.append(f"revision: database is at {current or 'none'}, head is {head}")
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "target_metadata": all_metadata()}
            )
            diffs = compare_metadata(context, all_metadata())
        for diff in diffs:
            problems.extend(_describe_diff(diff))
        return problems
    finally:
        engine.dispose()


