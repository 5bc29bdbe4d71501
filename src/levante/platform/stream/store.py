"""Every statement of the stream feature: the change rows of SQLite (``stream_changes``),
the NOTIFY of PostgreSQL (the hub LISTENs through `core.store.listen_until`).

The policy (when to prune, how to cut a payload, what a failed NOTIFY costs) is
:mod:`levante.platform.stream.changes`'s and the reading loop :mod:`.hub`'s; these are
only the statements, built once.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, RowMapping, bindparam, delete, func, insert, select, text

from levante.platform.stream.tables import stream_changes

CHANNEL = "levante_stream"
BATCH = 500  # change rows one poll reads at most

_INSERT = insert(stream_changes)
_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', :payload)")
_NEWEST = select(func.max(stream_changes.c.seq))
# The newest row stays: SQLite numbers a new row after the largest left, and readers go by
# that number.
_PRUNE = delete(stream_changes).where(stream_changes.c.at < bindparam("before"),
                                      stream_changes.c.seq < _NEWEST.scalar_subquery())
_AFTER = (select(stream_changes)
          .where(stream_changes.c.seq > 0, stream_changes.c.seq > bindparam("after"))
          .order_by(stream_changes.c.seq).limit(BATCH))


def write_changes(conn: Connection, op: str, execution_ids: Sequence[str],
                  first_seq: int | None, at: float) -> None:
    """One change row per execution, in `conn`'s transaction (readers see the change when
    they see the write)."""
    conn.execute(_INSERT, [{"op": op, "execution_id": i, "first_seq": first_seq, "at": at}
                           for i in execution_ids])


def prune_changes(conn: Connection, before: float) -> None:
    """Delete the change rows written before `before` (a time stamp), the newest kept."""
    conn.execute(_PRUNE, {"before": before})


def notify(conn: Connection, payload: str) -> None:
    """One NOTIFY on :data:`CHANNEL` (PostgreSQL), delivered when `conn` commits."""
    conn.execute(_NOTIFY, {"payload": payload})


def newest_seq(conn: Connection) -> int:
    """The number of the newest change row (0 when there is none): where a poll starts."""
    return conn.execute(_NEWEST).scalar() or 0


def changes_after(conn: Connection, after: int) -> list[RowMapping]:
    """The change rows numbered after `after`, oldest first, at most :data:`BATCH`."""
    return [r._mapping for r in conn.execute(_AFTER, {"after": after})]
