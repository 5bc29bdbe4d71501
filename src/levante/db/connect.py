"""Create SQLAlchemy engines for SQLite (WAL, foreign keys, busy timeout) and PostgreSQL."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import StaticPool

from levante.config import Config
from levante.db import faults
from levante.db.local import attach, local_of


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the URL names (or none)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername != "postgresql+psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    """The file behind an SQLite URL, or None for an in-memory database."""
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def make_engine(
    url: str, busy_timeout: float = 30.0, pool_size: int = 10, echo: bool = False
) -> Engine:
    """An engine with the pragmas and pool that suit the database behind `url`."""
    url = normalize_url(url)
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {
            "connect_args": {"timeout": busy_timeout, "check_same_thread": False},
            "echo": echo,
        }
        if path is None:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)
        _install_sqlite_pragmas(engine, busy_timeout, in_memory=path is None)
        _drop_stuck_connections(engine)
        return attach(engine)
    # No pre-ping: it costs a round trip on every checkout, on the hot path of every
    # step; connections are recycled instead, and a dropped one fails one transaction.
    engine = create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800, echo=echo
    )
    _drop_stuck_connections(engine)
    return attach(engine)


def _drop_stuck_connections(engine: Engine) -> None:
    """A connection that met a refusal to write is closed rather than pooled again.

    SQLite opens a file it cannot write read-only, and that connection stays read-only
    once the file is writable again; a PostgreSQL session opened while the database was
    read-only (``default_transaction_read_only``) stays so too. Marking the error as a
    disconnect makes the pool drop it (and the connections opened with it); the write is
    tried again on a fresh one (levante.db.faults).
    """

    @event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> None:
        if context.is_disconnect or not faults.stuck_connection(
                context.original_exception):
            return
        context.is_disconnect = True

    # A connection opened while the database refused writes (reads go on, so it may be
    # pooled again) is replaced once writes may work: on SQLite when the file is writable
    # again, on PostgreSQL a second after it was opened (a new session sees the database's
    # current default).
    path = sqlite_path(str(engine.url)) if engine.dialect.name == "sqlite" else None
    if engine.dialect.name == "sqlite" and path is None:
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        if path is not None:
            read_only = not os.access(path, os.W_OK)
        else:  # reported by the server at connect (PostgreSQL 14+): no round trip
            info = getattr(dbapi_conn, "info", None)
            status = getattr(info, "parameter_status", None)
            read_only = callable(status) and any(
                status(name) == "on"
                for name in ("default_transaction_read_only", "in_hot_standby"))
        if read_only:
            record.info[READ_ONLY_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        since = record.info.get(READ_ONLY_SINCE)
        if since is None:
            return
        if (path is not None and os.access(path, os.W_OK)) or \
                (path is None and time.monotonic() - since > 1.0):
            raise DisconnectionError("opened while the database refused writes")


READ_ONLY_SINCE = "levante.read_only_since"


def engine_from_config(config: Config) -> Engine:
    return make_engine(
        config.database_url,
        busy_timeout=config.get_float("database", "busy_timeout"),
        pool_size=config.get_int("database", "pool_size"),
        echo=config.get_bool("database", "echo"),
    )


class _WriterLock:
    """One writer at a time per SQLite database in this process.

    SQLite allows one writer. Threads that race for its lock make its busy handler sleep
    (1, 2, 5, 10 ms... each time), so the writers of one process queue on a Python lock,
    which hands over at once; other processes (and other engines) still meet the busy
    handler. Re-entrant: a nested writer fails on SQLite's busy timeout instead of hanging
    here. Kept on the engine's `Local`: the roles of a process share their engine.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()


def _writer_lock(db: Engine) -> threading.RLock | None:
    if db.dialect.name != "sqlite":
        return None
    return local_of(db).part(_WriterLock).lock


class _Autocommit:
    """The autocommit variant of an engine, made once (see `autocommit`)."""

    def __init__(self) -> None:
        self.engine: Engine | None = None


def autocommit(engine: Engine) -> Engine:
    """On PostgreSQL, the same pool in autocommit: a lone statement is one round trip
    (no BEGIN, no COMMIT or ROLLBACK); at READ COMMITTED it sees exactly what it would
    see in a transaction of its own. SQLite: the engine itself."""
    if engine.dialect.name == "sqlite":
        return engine
    if engine.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return engine
    held = local_of(engine).part(_Autocommit)
    if held.engine is None:  # (a derived engine follows its parent's pool, dispose too)
        held.engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    return held.engine


def reading(engine: Engine) -> Connection:
    """A connection for reads: autocommit on PostgreSQL (a lone read is one round trip),
    a deferred transaction on SQLite."""
    return autocommit(engine).connect()


@contextmanager
def writing(db: Engine) -> Iterator[Connection]:
    """A connection in a transaction that will write: BEGIN IMMEDIATE on SQLite (no lock
    upgrade halfway), queued behind this process's other writers of the same database."""
    lock = _writer_lock(db)
    if lock is not None:
        lock.acquire()
    after: list[Callable[[], None]] = []
    try:
        conn = db.connect()
        try:
            if lock is not None:
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            conn.info[AFTER_COMMIT] = after
            with conn.begin():
                yield conn
        finally:
            conn.info.pop(AFTER_COMMIT, None)
            conn.close()
    finally:
        if lock is not None:
            lock.release()
    for callback in after:  # committed (an exception above skips them)
        callback()


AFTER_COMMIT = "levante.after_commit"


def after_commit(conn: Connection, callback: Callable[[], None]) -> bool:
    """Call ``callback()`` once the transaction of ``conn`` (opened by `writing`) has
    committed and the writer lock is free; False when ``conn`` is not such a transaction
    (then nothing is registered). A callback equal to one already registered is not
    registered again (e.g. one wake-up per transaction, however many writes ask)."""
    found = conn.info.get(AFTER_COMMIT)
    if not isinstance(found, list):
        return False
    if callback not in found:
        found.append(callback)
    return True


def _install_sqlite_pragmas(engine: Engine, busy_timeout: float, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide where transactions begin, so that
        # BEGIN IMMEDIATE can be used for writers.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
