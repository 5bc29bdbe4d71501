"""Wake-ups of the notifier the moment the runtime commits outbox events.

The runtime calls `notify_in_transaction(conn)` inside a transaction that wrote rows to
`engine_events` (on PostgreSQL this sends a NOTIFY on `CHANNEL`, delivered at commit to
notifier processes anywhere), and `events_committed()` right after that transaction
committed (this wakes notifiers in the same process at once). Both are cheap no-ops when
nobody listens; without them the notifier still finds the events at its poll interval.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import Connection, text

CHANNEL = "levante_engine_events"

_listeners: list[tuple[Callable[[], None], Callable[[], None]]] = []
_lock = threading.Lock()


def add_listener(callback: Callable[[], None],
                 later: Callable[[], None] | None = None) -> None:
    """Call `callback()` (from any thread) whenever events were committed; `later()`
    instead, when given, if they were only task events (which may wait a little, see
    `[notifier] task_event_linger`)."""
    with _lock:
        _listeners.append((callback, later or callback))


def remove_listener(callback: Callable[[], None]) -> None:
    with _lock:
        _listeners[:] = [pair for pair in _listeners if pair[0] != callback]


def events_committed(urgent: bool = True) -> None:
    """Tell notifiers in this process that new outbox events are committed (`urgent`:
    not only task events)."""
    with _lock:
        listeners = [now if urgent else later for now, later in _listeners]
    for callback in listeners:
        callback()


def notify_in_transaction(conn: Connection) -> None:
    """On PostgreSQL, have the commit of `conn`'s transaction wake notifier processes."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})
