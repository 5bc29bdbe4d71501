"""Create SQLAlchemy engines for SQLite (WAL, foreign keys, busy timeout) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from levante.config import Config


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
        return engine
    # No pre-ping: it costs a round trip on every checkout, on the hot path of every
    # step; connections are recycled instead, and a dropped one fails one transaction.
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800, echo=echo
    )


def engine_from_config(config: Config) -> Engine:
    return make_engine(
        config.database_url,
        busy_timeout=config.get_float("database", "busy_timeout"),
        pool_size=config.get_int("database", "pool_size"),
        echo=config.get_bool("database", "echo"),
    )


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
