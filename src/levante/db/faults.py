"""A database that refuses writes for a while: how to recognise it, and how to wait it out.

SQLite refuses writes when its file (or its ``-wal``) cannot be written (read-only,
immutable, a full or failing disk: ``SQLITE_READONLY``, ``SQLITE_IOERR``, ``SQLITE_FULL``,
``SQLITE_CANTOPEN``) or when another process holds the write lock past the busy timeout
(``SQLITE_BUSY``, "database is locked"). PostgreSQL refuses them in a read-only
transaction (a standby, ``default_transaction_read_only``: SQLSTATE 25006), when it shuts
down or cannot take connections (57P01-57P03), when the connection is lost (class 08) or
the disk is full (class 53). None of these says anything about the data being written: the
same write succeeds once the database accepts writes again. So outcomes that could not be
recorded are kept (in memory) and written again with backoff, for at most
``[database] write_retry_timeout`` seconds, instead of being dropped or turned into
failures; and the APIs answer 503 with ``Retry-After`` meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

MESSAGE = "The database is not accepting writes at the moment; try again"
RETRY_AFTER_SECONDS = 5
FIRST_DELAY = 0.2
MAX_DELAY = 5.0

_SQLITE_NAMES = ("SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_BUSY", "SQLITE_LOCKED",
                 "SQLITE_FULL", "SQLITE_CANTOPEN", "SQLITE_PROTOCOL")
_SQLITE_TEXTS = ("readonly database", "read-only database", "disk i/o error",
                 "database is locked", "database table is locked", "database or disk is full",
                 "unable to open database file")
# SQLSTATE classes and codes of PostgreSQL that mean "not now", not "not this".
_PG_CLASSES = ("08", "53")
_PG_CODES = ("25006", "57P01", "57P02", "57P03")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else (
            current.__cause__ or current.__context__)
    return seen


def refuses_writes(exc: BaseException) -> bool:
    """True when ``exc`` says the database refuses writes (or cannot be reached) for now."""
    for found in _chain(exc):
        if getattr(found, "connection_invalidated", False):
            return True
        module = type(found).__module__ or ""
        if module.startswith("sqlite3"):
            name = str(getattr(found, "sqlite_errorname", "") or "")
            if name.startswith(_SQLITE_NAMES):
                return True
            text = str(found).lower()
            if any(t in text for t in _SQLITE_TEXTS):
                return True
        elif module.startswith("psycopg"):
            code = str(getattr(found, "sqlstate", "") or "")
            if code in _PG_CODES or code[:2] in _PG_CLASSES:
                return True
            if not code and type(found).__name__ in ("OperationalError", "InterfaceError"):
                return True  # no answer at all: a connection that failed or was lost
    return False


def stuck_connection(exc: BaseException) -> bool:
    """True when the connection that raised ``exc`` may keep refusing writes after the
    database accepts them again (see `levante.db.connect`)."""
    module = type(exc).__module__ or ""
    if module.startswith("sqlite3"):
        name = str(getattr(exc, "sqlite_errorname", "") or "")
        text = str(exc).lower()
        return name.startswith(("SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN")) or \
            "readonly database" in text or "disk i/o error" in text
    if module.startswith("psycopg"):
        return str(getattr(exc, "sqlstate", "") or "") == "25006"
    return False


class Deadline:
    """Backoff between attempts at one write, for at most ``limit`` seconds."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.started = time.monotonic()
        self.delay = FIRST_DELAY
        self.attempts = 0

    def next_delay(self) -> float | None:
        """Seconds to wait before the next attempt, or None when the time is up."""
        self.attempts += 1
        left = self.limit - (time.monotonic() - self.started)
        if left <= 0:
            return None
        delay = min(self.delay, left)
        self.delay = min(self.delay * 2, MAX_DELAY)
        return delay


def _refused_attempt(exc: Exception, deadline: Deadline, limit: float, what: str,
                     log: logging.Logger, tag: str) -> float:
    """The wait before the next attempt after ``exc``; raises ``exc`` again when it is not
    a refusal of writes or when the time is up (both retry loops share this)."""
    if not refuses_writes(exc):
        raise exc
    delay = deadline.next_delay()
    if delay is None:
        log.error("%scould not record %s: the database refused writes for %.0f s",
                  tag, what, limit)
        raise exc
    if deadline.attempts == 1:
        log.warning("%sthe database refuses writes (%s); %s is kept and recorded "
                    "once it accepts them again", tag, _short(exc), what)
    return delay


def _recorded(deadline: Deadline, what: str, log: logging.Logger, tag: str) -> None:
    if deadline.attempts:
        log.info("%s%s recorded after %d refused attempt(s)", tag, what, deadline.attempts)


def retry_writes(
    func: Callable[[], T], limit: float, what: str, log: logging.Logger,
    tag: str = "",
) -> T:
    """``func()``, called again with backoff while the database refuses writes, for at most
    ``limit`` seconds (then the last error is raised). Blocks: call it in a thread."""
    deadline = Deadline(limit)
    while True:
        try:
            result = func()
        except Exception as exc:
            time.sleep(_refused_attempt(exc, deadline, limit, what, log, tag))
            continue
        _recorded(deadline, what, log, tag)
        return result


async def retry_writes_async(
    func: Callable[[], T], limit: float, what: str, log: logging.Logger,
    tag: str = "", in_thread: bool = True,
) -> T:
    """As `retry_writes`, waiting on the event loop between attempts; ``func`` runs in a
    thread (or inline when ``in_thread`` is false)."""
    deadline = Deadline(limit)
    while True:
        try:
            result = await asyncio.to_thread(func) if in_thread else func()
        except Exception as exc:
            await asyncio.sleep(_refused_attempt(exc, deadline, limit, what, log, tag))
            continue
        _recorded(deadline, what, log, tag)
        return result


WARN_EVERY = 10.0


class RefusalWarnings:
    """The warnings of one service about a database that refuses writes: one line (not a
    traceback) per ``what``, at most every `WARN_EVERY` seconds, so that a loop that meets
    the refusal at every turn does not flood the log. Each service keeps its own."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def warn(self, log: logging.Logger, what: str, exc: BaseException) -> None:
        stamp = time.monotonic()
        if stamp - self._last.get(what, -WARN_EVERY) >= WARN_EVERY:
            self._last[what] = stamp
            log.warning(refused_line(what, exc))


def refused_line(what: str, exc: BaseException) -> str:
    """The line that says ``what`` met a database refusing writes and is tried again."""
    return f"{what}: the database refuses writes ({_short(exc)}); trying again"


def _short(exc: BaseException) -> str:
    """The database's own words, without the SQL statement SQLAlchemy appends."""
    for found in reversed(_chain(exc)):
        text = str(found).strip().splitlines()
        if text:
            return f"{type(found).__name__}: {text[0][:200]}"
    return type(exc).__name__


def retry_timeout(config: Any) -> float:
    """``[database] write_retry_timeout`` of a configuration."""
    return float(config.get_float("database", "write_retry_timeout"))
