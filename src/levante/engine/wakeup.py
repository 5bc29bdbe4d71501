"""Wake-ups of the notifier the moment the runtime commits outbox events.

The runtime calls `notify_in_transaction(conn)` inside a transaction that wrote rows to
`engine_events` (on PostgreSQL this sends a NOTIFY on `CHANNEL`, delivered at commit to
notifier processes anywhere), and `events_committed(db)` right after that transaction
committed (this wakes notifiers of this process on the same database at once: they wait
on the bells of the engine's `Local`, see `levante.db.local`). Both are cheap no-ops when
nobody listens; without them the notifier still finds the events at its poll interval.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine

from levante.db.local import local_of
from levante.engine.store import executions as store

CHANNEL = store.EVENTS_CHANNEL

# The bells of the engine's Local: rung when any events were committed, and when only
# task events were (those may wait a little, see `[notifier] task_event_linger`).
URGENT = "engine-events"
LINGERING = "engine-task-events"


def add_listener(db: Engine, callback: Callable[[], None],
                 later: Callable[[], None] | None = None) -> None:
    """Call `callback()` (from any thread) whenever events were committed to `db`;
    `later()` instead, when given, if they were only task events."""
    local = local_of(db)
    local.bell(URGENT).add(callback)
    local.bell(LINGERING).add(later or callback)


def remove_listener(db: Engine, callback: Callable[[], None],
                    later: Callable[[], None] | None = None) -> None:
    """Undo `add_listener(db, callback, later)`."""
    local = local_of(db)
    local.bell(URGENT).remove(callback)
    local.bell(LINGERING).remove(later or callback)


def events_committed(db: Engine, urgent: bool = True) -> None:
    """Tell notifiers of this process on `db` that new outbox events are committed
    (`urgent`: not only task events)."""
    local_of(db).bell(URGENT if urgent else LINGERING).ring()


def notify_in_transaction(conn: Connection) -> None:
    """On PostgreSQL, have the commit of `conn`'s transaction wake notifier processes."""
    if conn.dialect.name == "postgresql":
        store.notify_events(conn)
