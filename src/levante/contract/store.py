"""Every SQL statement of the delivery loop common to both routes of the outbox.

Claims take the heads of lines (no earlier pending message of the same route and line),
lease them (``next_attempt_at`` in the future, so that the HTTP call happens outside any
transaction and another process takes a message over only if this one dies) and, for a
batching route, bring along what waits behind a head. On PostgreSQL claims skip locked
rows. What each route writes into the outbox (the engine's fan-out of its events, the
platform's reports) stays in that service's store; the caller opens the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, exists, func, select, update
from sqlalchemy.orm import aliased

from levante.contract.tables import outbox as o
from levante.db.times import aware, now


def listen(channel: str) -> str:
    """The statement a PostgreSQL connection of the delivery loop waits on (psycopg's own
    connection, outside SQLAlchemy)."""
    return f"LISTEN {channel}"


def data_version(dbapi_connection: Any) -> int:
    """SQLite's count of commits seen by this connection from other connections (what a
    delivery loop watches to notice another process's writes)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA data_version")
        return int(cursor.fetchone()[0])
    finally:
        cursor.close()

PENDING = "pending"

Row = dict[str, Any]

# Statements of the hot path, built once: building and keying a statement costs more than
# SQLite takes to run it.
_EARLIER = aliased(o)
_HEADS = (
    select(o)
    .where(
        o.c.route == bindparam("b_route"),
        o.c.state == PENDING,
        o.c.next_attempt_at <= bindparam("b_now"),
        ~exists().where(
            _EARLIER.c.route == o.c.route,
            _EARLIER.c.line == o.c.line,
            _EARLIER.c.state == PENDING,
            _EARLIER.c.id < o.c.id,
        ),
    )
    .order_by(o.c.id)
    .limit(bindparam("b_limit"))
)
_HEADS_PG = _HEADS.with_for_update(skip_locked=True, of=o)
_FOLLOWERS = (
    select(o)
    .where(o.c.route == bindparam("b_route"), o.c.line == bindparam("b_line"),
           o.c.state == PENDING, o.c.id > bindparam("b_after"))
    .order_by(o.c.id)
    .limit(bindparam("b_limit"))
)
_LEASE = (
    update(o)
    .where(o.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(
        next_attempt_at=bindparam("b_until"),
        last_attempt_at=bindparam("b_now"),
        first_attempt_at=func.coalesce(o.c.first_attempt_at, bindparam("b_now")),
    )
)
_RECORD_COMMON = {
    "attempts": o.c.attempts + 1,
    "last_status": bindparam("b_status"),
    "last_duration_ms": bindparam("b_ms"),
    "last_error": bindparam("b_error"),
}
_PENDING_ONE = and_(o.c.id == bindparam("b_id"), o.c.state == PENDING)
_DONE = update(o).where(_PENDING_ONE).values(
    **_RECORD_COMMON, state=bindparam("b_state"), delivered_at=bindparam("b_now"))
_ENDED = update(o).where(_PENDING_ONE).values(**_RECORD_COMMON, state=bindparam("b_state"))
_RETRY = update(o).where(_PENDING_ONE).values(
    **_RECORD_COMMON, next_attempt_at=bindparam("b_retry"))
_NEXT_DUE = select(func.min(o.c.next_attempt_at)).where(
    o.c.route == bindparam("b_route"), o.c.state == PENDING)
_DUE_NOW = select(o.c.id).where(o.c.route == bindparam("b_route"), o.c.state == PENDING,
                                o.c.next_attempt_at <= bindparam("b_now")).limit(1)


def claim(
    conn: Connection, route: str, lease: float, limit: int, batch: int = 1,
    batches: str | None = None,
) -> list[list[Row]]:
    """Take up to ``limit`` due messages of ``route`` that head their line; lease them for
    ``lease`` seconds. For heads of kind ``batches``, up to ``batch`` messages that wait
    behind the head in its line come along (in order), to be sent in one request; returns
    one list per line."""
    if limit <= 0:
        return []
    stamp = now()
    query = _HEADS_PG if conn.dialect.name == "postgresql" else _HEADS
    heads = [dict(r._mapping) for r in conn.execute(
        query, {"b_route": route, "b_now": stamp, "b_limit": limit})]
    if not heads:
        return []
    lines: list[list[Row]] = []
    for head in heads:
        line = [head]
        if batches is not None and head["kind"] == batches and batch > 1:
            line.extend(dict(r._mapping) for r in conn.execute(_FOLLOWERS, {
                "b_route": route, "b_line": head["line"], "b_after": head["id"],
                "b_limit": batch - 1,
            }))
        lines.append(line)
    until = stamp + timedelta(seconds=lease)
    conn.execute(_LEASE, {"b_ids": [r["id"] for line in lines for r in line],
                          "b_until": until, "b_now": stamp})
    for line in lines:
        for row in line:
            row["created_at"] = aware(row["created_at"])
            row["first_attempt_at"] = aware(row["first_attempt_at"]) or stamp
            row["last_attempt_at"] = stamp
            row["next_attempt_at"] = until
    return lines


@dataclass(frozen=True)
class Outcome:
    """How one attempt at one message ended: its new ``state`` (pending: try again at
    ``retry_at``), with the answer's status, error and milliseconds."""

    message_id: int
    state: str
    status: int | None = None
    error: str | None = None
    duration_ms: int = 0
    retry_at: datetime | None = None


def record(conn: Connection, outcomes: Sequence[Outcome], delivered: str) -> None:
    """Store the outcomes of attempts (``delivered``: the route's name for a message the
    receiver acknowledged, which stamps ``delivered_at``)."""
    stamp = now()
    retries: list[dict[str, Any]] = []
    done: list[dict[str, Any]] = []
    ended: list[dict[str, Any]] = []
    for outcome in outcomes:
        values = {"b_id": outcome.message_id, "b_status": outcome.status,
                  "b_ms": outcome.duration_ms, "b_error": outcome.error}
        if outcome.state == PENDING:
            retries.append({**values, "b_retry": outcome.retry_at or stamp})
        elif outcome.state == delivered:
            done.append({**values, "b_state": outcome.state, "b_now": stamp})
        else:
            ended.append({**values, "b_state": outcome.state})
    # One call per kind (an acknowledged line of fifty events is one executemany).
    for statement, rows in ((_DONE, done), (_RETRY, retries), (_ENDED, ended)):
        if rows:
            conn.execute(statement, rows)


def pending_due(conn: Connection, route: str) -> datetime | None:
    """When the earliest pending message of ``route`` is due (None: nothing pending)."""
    return aware(conn.execute(_NEXT_DUE, {"b_route": route}).scalar())


def has_due(conn: Connection, route: str) -> bool:
    """Whether a pending message of ``route`` is due now."""
    return conn.execute(_DUE_NOW, {"b_route": route, "b_now": now()}).first() is not None


def purge(conn: Connection, route: str, before: datetime) -> int:
    """Forget the ended messages of ``route`` (sent, given up, refused) older than
    ``before``."""
    done = func.coalesce(o.c.delivered_at, o.c.last_attempt_at, o.c.created_at)
    return int(conn.execute(
        delete(o).where(o.c.route == route, o.c.state != PENDING, done < before)
    ).rowcount or 0)


def messages_of(conn: Connection, route: str, execution_id: str) -> list[Row]:
    """Every message of ``route`` an execution caused, oldest first (tests, tracing)."""
    return [dict(r._mapping) for r in conn.execute(
        select(o).where(o.c.route == route, o.c.execution_id == execution_id)
        .order_by(o.c.id))]
