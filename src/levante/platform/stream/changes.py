"""The hook of the platform store: "these executions changed" (or "have new output").

Called right after the write, on the write's own connection:
- SQLite: one row per execution in ``stream_changes``, in the same transaction (readers
  see the change exactly when they see the write); rows older than
  :data:`KEEP_SECONDS` are deleted every :data:`PRUNE_EVERY` writes of a process
  (counted on the engine's Local).
- PostgreSQL: one ``NOTIFY levante_stream`` (a statement of its own when the write was a
  lone autocommit statement, so no transaction holds the notify lock through its commit;
  inside the transaction otherwise). A listener that is not connected at that moment
  misses it: the stream is live news, not a log (``/v1/executions`` is the record).

Payload: ``op|first_seq|id,id,...`` where op is create, update or output. The statements
are :mod:`levante.platform.stream.store`'s.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable

from sqlalchemy import Connection

from levante.db.local import local_of
from levante.platform.stream import store

log = logging.getLogger("levante.platform.stream")

KEEP_SECONDS = 120.0
PRUNE_EVERY = 1000
_PAYLOAD_IDS = 250  # ids per NOTIFY (its payload must stay under 8000 bytes)


class Writes:
    """The change rows this process wrote to one SQLite database (a part of its engine's
    Local): every PRUNE_EVERY-th write prunes the old ones."""

    def __init__(self) -> None:
        self.count = itertools.count()


def record(conn: Connection, op: str, execution_ids: Iterable[str],
           first_seq: int | None = None) -> None:
    """Tell stream subscribers (of every process) that `execution_ids` changed."""
    ids = list(execution_ids)
    if not ids:
        return
    if conn.dialect.name == "sqlite":
        stamp = time.time()
        store.write_changes(conn, op, ids, first_seq, stamp)
        if next(local_of(conn.engine).part(Writes).count) % PRUNE_EVERY == PRUNE_EVERY - 1:
            store.prune_changes(conn, stamp - KEEP_SECONDS)
        return
    head = f"{op}|{'' if first_seq is None else first_seq}|"
    try:
        for start in range(0, len(ids), _PAYLOAD_IDS):
            store.notify(conn, head + ",".join(ids[start:start + _PAYLOAD_IDS]))
    except Exception as exc:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            raise  # the transaction is lost anyway: its writer sees why
        # The write itself is committed: only the news is lost.
        log.warning("stream: could not announce a change of %s (%s)", ids[0],
                    type(exc).__name__)


def parse(payload: str) -> tuple[str, int | None, list[str]] | None:
    """``(op, first_seq, ids)`` of a NOTIFY payload, or None when it is not one."""
    parts = payload.split("|")
    if len(parts) != 3 or parts[0] not in ("create", "update", "output"):
        return None
    first = int(parts[1]) if parts[1].isdigit() else None
    return parts[0], first, [i for i in parts[2].split(",") if i]
