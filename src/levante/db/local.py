"""What this process keeps beside one database: the bells that wake its loops, its caches.

The roles of one process share one engine (`levante serve` and `levante up` make it once,
`levante.db.connect.make_engine`), and every function that reads or writes the database
is handed that engine. So what a process keeps about a database lives on the engine's
`Local`, not in module globals: a runner loop that wants to hear of new executions adds
itself to the engine's bell, the API that stores one rings it; a cache of actions or API
keys is the engine's. Two engines (two services a test builds side by side, two
databases) share nothing, and a test needs no save and restore.

The `Local` travels as an execution option, SQLAlchemy's documented place for values of
the application's own: engines derived with ``execution_options(...)`` (the autocommit
variant) share it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine

OPTION = "levante_local"

T = TypeVar("T")


class Bell:
    """Callbacks to call, from any thread, when something happens: the loops of this
    process that wait for news of one kind (new executions, committed events...)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: list[Callable[..., None]] = []

    def add(self, callback: Callable[..., None]) -> None:
        with self._lock:
            self._callbacks.append(callback)

    def remove(self, callback: Callable[..., None]) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def has(self, callback: Callable[..., None]) -> bool:
        with self._lock:
            return callback in self._callbacks

    def members(self) -> list[Callable[..., None]]:
        with self._lock:
            return list(self._callbacks)

    def ring(self, *args: Any) -> None:
        """Call every callback with ``args`` (outside the lock: a callback may add or
        remove one)."""
        for callback in self.members():
            callback(*args)


class Local:
    """One per engine: the parts that code of this process keeps about its database, each
    made at its first use (`part`) and then the same object for every caller."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: dict[Any, Any] = {}

    def part(self, kind: type[T]) -> T:
        """The one ``kind()`` of this database in this process."""
        found: T = self._made(kind, kind)
        return found

    def bell(self, name: str) -> Bell:
        """The bell called ``name`` (each module that rings one names it)."""
        found: Bell = self._made(name, Bell)
        return found

    def _made(self, key: Any, make: Callable[[], Any]) -> Any:
        """What ``key`` holds, made by ``make()`` at its first use (once, under races)."""
        found = self._parts.get(key)
        if found is None:
            with self._lock:
                found = self._parts.get(key)
                if found is None:
                    found = self._parts[key] = make()
        return found


def attach(engine: Engine) -> Engine:
    """Give ``engine`` its `Local` (`make_engine` does; an engine made otherwise gets one
    at its first `local_of`)."""
    if OPTION not in engine.get_execution_options():
        engine.update_execution_options(**{OPTION: Local()})
    return engine


def local_of(engine: Engine) -> Local:
    """The `Local` of ``engine`` (shared by the engines derived from it)."""
    found = engine.get_execution_options().get(OPTION)
    if found is None:
        found = attach(engine).get_execution_options()[OPTION]
    return found
