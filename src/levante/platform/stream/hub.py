"""One reader of the change feed per process, fanned out to every subscriber in memory.

A process holds one :class:`Hub` per database. The hub reads the feed only while someone
subscribes: on SQLite a task polls ``stream_changes`` every ``poll_interval``; on
PostgreSQL one connection LISTENs. Each change is read from the database once and turned
into events once, whatever the number of subscribers; each subscriber has a bounded
queue, and one that lets it fill (a client that does not read) is cut off, so a slow
subscriber costs the others and the API nothing. An idle subscriber is a queue and a
waiting task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Engine

from levante.db.local import local_of
from levante.platform.core import store
from levante.platform.stream import changes, events
from levante.platform.stream import store as feed

log = logging.getLogger("levante.platform.stream")

QUEUE_SIZE = 1000
_KNOWN = 10000  # executions whose ref and last output line the hub remembers


@dataclass(frozen=True)
class Filter:
    """What a subscriber wants: event names, action refs, execution ids (None: all)."""

    events: frozenset[str] | None = None
    action_refs: frozenset[str] | None = None
    execution_ids: frozenset[str] | None = None

    def wants(self, name: str, ref: str, execution_id: str) -> bool:
        return ((self.events is None or name in self.events)
                and (self.action_refs is None or ref in self.action_refs)
                and (self.execution_ids is None or execution_id in self.execution_ids))


class Item(NamedTuple):
    """One event as sent (``data``), with what ends a stream at it."""

    data: bytes
    name: str = ""
    execution_id: str = ""
    status: str = ""


END = Item(b"")  # the last item of a queue: the stream ends


@dataclass(eq=False)
class Subscriber:
    filter: Filter
    queue: asyncio.Queue[Item] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_SIZE))
    dropped: bool = False

    def offer(self, item: Item) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.close(dropped=True)

    def close(self, dropped: bool = False) -> None:
        """End the stream: empty the queue and leave only :data:`END` in it."""
        self.dropped = self.dropped or dropped
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(END)


class Hubs:
    """The hubs of this process on one database (a part of its engine's Local), so that
    a stopping process can end their streams (`close_all`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hubs: weakref.WeakSet[Hub] = weakref.WeakSet()

    def add(self, hub: Hub) -> None:
        with self._lock:
            self._hubs.add(hub)

    def members(self) -> list[Hub]:
        with self._lock:
            return list(self._hubs)


class Hub:
    def __init__(self, db: Engine, web_base: str, poll_interval: float) -> None:
        self.db = db
        self.web_base = web_base
        self.poll_interval = poll_interval
        self.subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._wanted = asyncio.Event()
        self.ready = asyncio.Event()  # the feed is being read: no change is missed now
        self._known: OrderedDict[str, tuple[dict[str, Any], int]] = OrderedDict()
        local_of(db).part(Hubs).add(self)

    # --- subscribers ----------------------------------------------------------------

    def subscribe(self, wanted: Filter) -> Subscriber:
        sub = Subscriber(wanted)
        self.subscribers.add(sub)
        self._wanted.set()
        if self._task is None or self._task.done():
            reader = self._listen if self.db.dialect.name != "sqlite" else self._poll
            self.ready.clear()
            self._task = asyncio.get_running_loop().create_task(reader(), name="stream-feed")
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        if not self.subscribers:
            # Nobody listens: stop reading the feed (the next subscriber starts it again,
            # from the feed's end).
            self._wanted.clear()
            if self._task is not None:
                self._task.cancel()
                self._task = None
            self.ready.clear()

    def close(self) -> None:
        """End every open stream (the API is stopping)."""
        for sub in list(self.subscribers):
            sub.close()
        self.subscribers.clear()
        if self._task is not None:
            self._task.cancel()

    # --- the feed -------------------------------------------------------------------

    async def _poll(self) -> None:
        """SQLite: look at ``stream_changes`` every ``poll_interval`` while subscribed."""
        last: int = self._read(feed.newest_seq)
        self.ready.set()
        while True:
            if not self.subscribers:
                await self._wanted.wait()
            await asyncio.sleep(self.poll_interval)
            try:
                rows = self._read(lambda c, after=last: feed.changes_after(c, after))
            except Exception as exc:
                log.warning("stream: cannot read the change feed (%s)", type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            for row in rows:
                last = int(row["seq"])
                self._dispatch(str(row["op"]), [str(row["execution_id"])], row["first_seq"])

    async def _listen(self) -> None:
        """PostgreSQL: LISTEN on one connection, reconnected when lost, until cancelled."""

        def heard(payload: str) -> None:
            parsed = changes.parse(payload)
            if parsed is not None and self.subscribers:
                self._dispatch(parsed[0], parsed[2], parsed[1])

        await store.listen_until(self.db, asyncio.Event(), heard, channel=feed.CHANNEL,
                                 on_connect=self.ready.set, logger=log,
                                 meanwhile="reconnecting")

    def _read(self, work: Any) -> Any:
        with store.reading(self.db) as conn:
            return work(conn)

    # --- changes into events --------------------------------------------------------

    def _dispatch(self, op: str, ids: list[str], first_seq: int | None) -> None:
        subs = list(self.subscribers)
        if not subs:
            return
        names = ((events.OUTPUT_EVENT,) if op == "output" else
                 (f"st2.execution__{op}", f"st2.liveaction__{op}"))
        if not any(s.filter.events is None or not s.filter.events.isdisjoint(names)
                   for s in subs):
            return
        for execution_id in ids:
            if all(s.filter.execution_ids is not None
                   and execution_id not in s.filter.execution_ids for s in subs):
                continue  # nobody asked for this one: not even read
            try:
                if op == "output":
                    self._output(subs, execution_id, first_seq)
                else:
                    self._execution(subs, op, execution_id, names)
            except Exception as exc:
                log.warning("stream: cannot read the change of %s (%s)", execution_id,
                            type(exc).__name__)

    def _execution(self, subs: list[Subscriber], op: str, execution_id: str,
                   names: tuple[str, ...]) -> None:
        row = store.get_execution(self.db, execution_id)
        if row is None:
            return
        self._remember(row, None)
        body = events.execution_body(row, self.web_base)
        status = str(row["status"])
        items = {names[0]: Item(events.sse(names[0], body), names[0], execution_id, status),
                 names[1]: Item(events.sse(names[1], body["liveaction"]), names[1],
                                execution_id, status)}
        if op == "create" and status != "requested":
            # Stored already claimed (handed to a runner of its process): StackStorm's
            # clients also expect the update that says it runs.
            for name, part in (("st2.execution__update", body),
                               ("st2.liveaction__update", body["liveaction"])):
                items[name] = Item(events.sse(name, part), name, execution_id, status)
        for sub in subs:
            for name, item in items.items():
                if sub.filter.wants(name, row["action_ref"], execution_id):
                    sub.offer(item)

    def _output(self, subs: list[Subscriber], execution_id: str,
                first_seq: int | None) -> None:
        known = self._known.get(execution_id)
        row = known[0] if known else store.get_execution(self.db, execution_id)
        if row is None:
            return
        # After the last line sent, never before the first new one (no history).
        after = max(known[1] if known else -1,
                    first_seq - 1 if first_seq is not None else -1)
        lines = store.get_output(self.db, execution_id, after_seq=after)
        if not lines:
            return
        self._remember(row, int(lines[-1]["seq"]))
        wanting = [s for s in subs if s.filter.wants(events.OUTPUT_EVENT, row["action_ref"],
                                                     execution_id)]
        for line in lines:
            item = Item(events.sse(events.OUTPUT_EVENT, events.output_body(row, line)),
                        events.OUTPUT_EVENT, execution_id)
            for sub in wanting:
                sub.offer(item)

    def _remember(self, row: dict[str, Any], last_seq: int | None) -> None:
        """Keep what output events need of an execution (its ref, runner, last line)."""
        key = str(row["id"])
        before = self._known.pop(key, None)
        slim = {"id": row["id"], "action_ref": row["action_ref"], "runner": row["runner"]}
        seq = last_seq if last_seq is not None else (before[1] if before else -1)
        self._known[key] = (slim, seq)
        while len(self._known) > _KNOWN:
            self._known.popitem(last=False)


def close_all(db: Engine) -> None:
    """End the open streams of every hub of this process on ``db``."""
    for hub in local_of(db).part(Hubs).members():
        with contextlib.suppress(Exception):
            hub.close()
