"""The schema guard every service and command runs before it touches its tables: is the
database at the revision this code expects?

Kept apart from :mod:`levante.db.manage` so that a start does not import Alembic (half a
second of a process's start): the head is read from the migration files' own
``revision``/``down_revision`` lines and the current revision from the version table.
``tests/migration`` checks that both agree with Alembic's.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, inspect, text

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"
UPGRADE_COMMAND = "levante-db-manage upgrade head"
# The exit status of a command or service refusing a database that is not at head.
EXIT_SCHEMA_NOT_AT_HEAD = 3

_REVISION = re.compile(r'^(down_revision|revision)\s*=\s*["\']?([^"\'\s]*)["\']?\s*$',
                       re.MULTILINE)


class DatabaseStateError(Exception):
    """The database is not in a state the requested operation can work from."""


class SchemaNotAtHead(DatabaseStateError):
    """A service found the database at another revision than its code expects."""

    def __init__(self, current: str | None, expected: str) -> None:
        self.current = current
        self.expected = expected
        super().__init__(self.describe())

    def describe(self, database: str | None = None, also: str = "") -> str:
        """The one line to show, naming `database` when given (commands that open any
        configured database say which); `also` is added to the advice."""
        name = f"database {database}" if database else "database"
        return (
            f"{name} is at revision {self.current or 'none (empty)'}, expected "
            f"{self.expected}; run `{UPGRADE_COMMAND}`{also}"
        )


@cache
def head_revision() -> str:
    """The revision no other migration revises: the head."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = {m.group(1): m.group(2) for m in _REVISION.finditer(path.read_text("utf-8"))}
        if found.get("revision"):
            revisions.add(found["revision"])
            if found.get("down_revision") not in (None, "", "None"):
                revised.add(found["down_revision"])
    heads = revisions - revised
    if len(heads) != 1:
        raise DatabaseStateError(f"the migrations have {len(heads)} heads: "
                                 f"{', '.join(sorted(heads)) or 'none'}")
    return heads.pop()


def current_revision(engine: Engine) -> str | None:
    """The revision recorded in the database (None: no version table, or no row)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        found = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    return str(found) if found is not None else None


def ensure_at_head(engine: Engine) -> None:
    """Raise SchemaNotAtHead unless the database is at head."""
    expected = head_revision()
    current = current_revision(engine)
    if current != expected:
        raise SchemaNotAtHead(current, expected)
