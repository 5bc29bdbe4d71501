"""The one claim-and-send loop of the outbox, for both directions of the handshake.

A :class:`DeliveryLoop` claims due messages of its route (one write transaction that also
records the outcomes of the attempts just made), sends each line of messages in one
request, judges the answer by its route (:class:`~levante.contract.delivery.Route`), logs
the route's lines and records how it went: delivered, tried again after the backoff, or
given up. It is woken from any thread (``wake``); when idle it may claim in the thread
that committed new messages (``direct``), and it takes over messages another thread
already leased to it (``take``), so that no claim transaction stands in the hot path.
Between wake-ups it sleeps until the earliest pending message is due, at most ``poll``
seconds; on SQLite it may watch other processes' commits, on PostgreSQL LISTEN to a
channel.

What a service adds is small: the claim transaction (its store: the engine fans its
events out first), the request of a line (URL, body, headers, signing) and the client;
see ``levante.engine.platform_link.delivery`` and ``levante.platform.workflows.reports``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Engine

from levante.contract import store as outbox_store
from levante.contract.delivery import Answer, Backoff, Route, Verdict, error_of, wait_for_wake
from levante.contract.store import PENDING, Outcome
from levante.db import faults
from levante.db.times import now

Row = dict[str, Any]
Line = list[Row]

SQLITE_WATCH = 0.02  # s between looks at PRAGMA data_version (commits of other processes)
BLOCKED_PAUSE = 0.02  # s: a due message that is not the head of its line waits for a wake
BUSY_PAUSE = 0.002  # s: another transaction held the claim's preparation; look again after


@dataclass
class Claimed:
    """What one claim transaction found: lines to send, what their bodies are made of,
    when the earliest pending message is due, and whether to look again shortly."""

    lines: list[Line] = field(default_factory=list)
    material: Any = None
    due: datetime | None = None
    busy: bool = False


@dataclass(frozen=True)
class LoopSettings:
    """How one loop runs (from its service's configuration)."""

    poll: float  # s between looks when nothing wakes the loop
    concurrency: int  # lines in flight at most
    backoff: Backoff
    timeout: float  # s of one request
    linger: float = 0.0  # s a wake_later waits before the loop looks
    direct: bool = False  # claim in the committing thread when idle
    watch_sqlite: bool = False  # watch other processes' commits on SQLite
    listen: str | None = None  # PostgreSQL channel to LISTEN on
    recheck: float | None = None  # after a wake that found nothing, look again this soon
    purge_every: float | None = None  # s between calls of `purge`
    # One round at a time: no claim while what the previous claim took is unanswered, so
    # that whatever one claim took reaches the receiver before anything a later one takes
    # (lines handed over with `take` do not count).
    rounds: bool = False


class DeliveryLoop:
    """One route's claim-and-send loop; a service subclasses it with its claim, its
    request and its client."""

    route: Route

    def __init__(self, route: Route, db: Engine, settings: LoopSettings) -> None:
        self.route = route
        self.db = db
        self.settings = settings
        self.log = logging.getLogger(route.logger)
        self.refusals = faults.RefusalWarnings()
        self.client: httpx.AsyncClient | None = None
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._round: set[asyncio.Task[None]] = set()  # lines of claims, in flight
        self._watch: Any = None
        self._stopping = False
        self._data_version = -1
        self._due: datetime | None = None  # earliest pending message, seen by the last claim
        self._direct = threading.Lock()  # one claim at a time from committing threads
        self._count_lock = threading.Lock()
        self._launching = 0  # lines handed to the loop from another thread, not yet started
        self._later_set = False  # a wake-up after `linger` is scheduled
        self._next_purge = 0.0

    # -- what a service provides --
    def claim(self, outcomes: Sequence[Outcome], limit: int, direct: bool = False) -> Claimed:
        """One write transaction: record ``outcomes``, claim up to ``limit`` lines."""
        raise NotImplementedError

    async def request(self, client: httpx.AsyncClient, line: Line, material: Any) -> Answer:
        """Send one line (one request); may raise (the loop records the error)."""
        raise NotImplementedError

    async def open_client(self) -> httpx.AsyncClient:
        raise NotImplementedError

    def has_work(self) -> bool:
        """Read-only: is anything to claim? (SQLite watch, before a write lock)"""
        return True

    def purge(self) -> None:
        """Forget old ended messages (every ``purge_every`` seconds)."""

    # -- wake-ups (from any thread) --
    def wake(self) -> None:
        loop = self._loop
        if loop is None:
            return
        if self.settings.direct and self._claim_here(loop):
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._wake.set)

    def wake_later(self) -> None:
        """Messages that may wait ``linger`` for company were committed: the claim is left
        to the loop then (or to the next urgent wake-up), not done in the committing thread,
        where it would hold the writer lock on a workflow's critical path."""
        if self.settings.linger <= 0:
            self.wake()
            return
        loop = self._loop
        if loop is None or self._later_set:
            return
        self._later_set = True
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.call_later, self.settings.linger,
                                      self._wake_from_later)

    def _wake_from_later(self) -> None:
        self._later_set = False
        self._wake.set()

    def take(self, lines: list[Line], material: Any = None) -> bool:
        """Thread-safe: send lines already leased to this loop (their claim was made
        elsewhere); False when the loop is not running (their leases run out and a claim
        sends them)."""
        loop = self._loop
        if loop is None or loop.is_closed() or self._stopping:
            return False
        with self._count_lock:
            self._launching += len(lines)
        try:
            loop.call_soon_threadsafe(self._launch, lines, material, False)
        except RuntimeError:
            with self._count_lock:
                self._launching -= len(lines)
            return False
        return True

    def _claim_here(self, loop: asyncio.AbstractEventLoop) -> bool:
        """When this loop is idle, claim in the thread that just committed the messages and
        hand the claimed lines to the event loop: no hop through the loop and a worker
        thread before the claim. True when lines were claimed and handed over (their
        outcome steps the loop again); else the loop is woken as usual."""
        if (self._stopping or self._in_flight or self._launching or loop.is_closed()
                or _running_in(loop)):
            return False
        if not self._direct.acquire(blocking=False):
            return False
        try:
            claimed = self.claim((), self.settings.concurrency, direct=True)
            if claimed.busy:
                self._look_again()
            if not claimed.lines:
                return False
            with self._count_lock:
                self._launching += len(claimed.lines)
        except Exception:
            return False  # the loop claims them (anything leased is taken up after its lease)
        finally:
            self._direct.release()
        try:
            loop.call_soon_threadsafe(self._launch, claimed.lines, claimed.material)
        except RuntimeError:  # the loop is closed: the leases run out, another run sends them
            return True
        return True

    def _look_again(self) -> None:
        """Step again shortly (from any thread): the claim's preparation was held by
        another transaction, which may have missed messages committed meanwhile."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.call_later, BUSY_PAUSE, self._wake.set)

    def _launch(self, lines: list[Line], material: Any, claimed: bool = True) -> None:
        try:
            self._start(lines, material, claimed)
        finally:
            with self._count_lock:
                self._launching -= len(lines)

    def _start(self, lines: list[Line], material: Any, claimed: bool = True) -> None:
        """One task per line; lines of a later wave (see Route.wave) wait for the earlier
        waves of the same claim. ``claimed``: by a claim of this loop (not handed over)."""
        waves: dict[int, list[Line]] = {}
        for line in lines:
            waves.setdefault(self.route.wave(line[0]), []).append(line)
        earlier: list[asyncio.Task[None]] = []
        for key in sorted(waves):
            started = []
            for line in waves[key]:
                task = asyncio.create_task(self._deliver(line, material, tuple(earlier)))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
                if claimed and self.settings.rounds:
                    self._round.add(task)
                    task.add_done_callback(self._round.discard)
                started.append(task)
            earlier.extend(started)

    # -- the loop --
    async def run(self, stopping: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        if self.settings.watch_sqlite and self.db.dialect.name == "sqlite":
            self._watch = self.db.raw_connection()
        listener = asyncio.create_task(self._listen(stopping))
        try:
            async with await self.open_client() as client:
                self.client = client
                await self._loop_until(stopping)
                self._stopping = True  # attempts in flight finish; no new ones start
                if self._in_flight:
                    await asyncio.wait(set(self._in_flight), timeout=self.settings.timeout)
        finally:
            self._stopping = True
            self.client = None
            if self._watch is not None:
                self._watch.close()
                self._watch = None
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener

    async def _loop_until(self, stopping: asyncio.Event) -> None:
        woken = False
        while not stopping.is_set():
            self._wake.clear()
            every = self.settings.purge_every
            if every is not None and time.monotonic() >= self._next_purge:
                self._next_purge = time.monotonic() + every
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.purge)
            room = self._room()
            try:
                found = await self.step()
            except Exception as exc:
                if faults.refuses_writes(exc):
                    self.refusals.warn(self.log, self.route.name, exc)
                else:
                    self.log.exception("%s: a round of deliveries failed; trying again",
                                       self.route.name)
                found, self._due = 0, None
            if found and found >= room:
                continue  # there may be more waiting
            delay = self._delay()
            if woken and not found and self.settings.recheck is not None:
                delay = min(delay, self.settings.recheck)
            woken = await self._idle(stopping, delay)

    def _room(self) -> int:
        if self._stopping:
            return 0
        return self.settings.concurrency - len(self._in_flight) - self._launching

    def _delay(self) -> float:
        """How long to sleep when no wake-up comes: until the earliest pending message is
        due (seen in the claim's transaction), at most the poll interval. A message due
        now that was not claimed waits behind its line: behind lines in flight here, whose
        outcomes step this loop again, else behind another process's (looked at again
        shortly)."""
        due = self._due
        if due is None:
            return self.settings.poll
        delay = min(self.settings.poll, (due - now()).total_seconds())
        if delay > 0:
            return delay
        return self.settings.poll if self._in_flight else BLOCKED_PAUSE

    async def _idle(self, stopping: asyncio.Event, delay: float) -> bool:
        """Wait for a wake-up, ``delay`` or the stop; True when woken. On SQLite, other
        processes' commits may be seen by watching ``PRAGMA data_version``."""
        deadline = time.monotonic() + delay
        while not stopping.is_set() and not self._wake.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            slice_ = min(left, SQLITE_WATCH) if self._watch is not None else left
            await wait_for_wake(self._wake, stopping, slice_)
            # (while attempts are in flight, their outcomes' rounds find any new work)
            if self._watch is not None and not self._in_flight and self._data_changed():
                with contextlib.suppress(Exception):
                    if await asyncio.to_thread(self.has_work):
                        return True
        return self._wake.is_set()

    def _data_changed(self) -> bool:
        try:
            assert self._watch is not None
            version = outbox_store.data_version(self._watch)
        except Exception:
            return True
        changed = version != self._data_version
        self._data_version = version
        return changed

    async def step(self, outcomes: Sequence[Outcome] = ()) -> int:
        """One round: record ``outcomes``, claim (one write transaction) and start the
        attempts of the lines claimed."""
        room = self._room()
        if self._round and self._round - {asyncio.current_task()}:
            room = 0  # (rounds) the claim waits for the end of the current round
        if room <= 0 and not outcomes:
            return 0
        claimed = await asyncio.to_thread(self.claim, outcomes, max(room, 0))
        self._due = claimed.due
        if claimed.busy:
            self._look_again()
        if claimed.lines:
            self._start(claimed.lines, claimed.material)
        if any(o.state == PENDING for o in outcomes):
            self._wake.set()  # the idle loop times its sleep again, for the retry
        return len(claimed.lines)

    async def _deliver(self, line: Line, material: Any,
                       after: Sequence[asyncio.Task[None]] = ()) -> None:
        if after:
            await asyncio.wait(after)
        route, log = self.route, self.log
        logging_info = log.isEnabledFor(logging.INFO)
        if logging_info:
            for row in line:
                text = route.line_before(row)
                if text:
                    log.info(text)
        answer = await self.attempt(line, material)
        verdict = answer.verdict(route)
        outcomes = [self._outcome(row, verdict, answer) for row in line]
        head, first = line[0], outcomes[0]
        if verdict is Verdict.DELIVERED:
            if logging_info:
                for row in line:
                    log.info(route.line_after(row, answer))
        elif first.state == PENDING:
            log.warning(route.line_retry(head, answer, first.retry_at))
        else:
            log.error(route.line_give_up(head, answer))
        try:
            await self.step(outcomes)
        except Exception as exc:
            # The lease runs out and the message is tried again: at least once (the
            # receivers are idempotent).
            if faults.refuses_writes(exc):
                self.refusals.warn(log, f"{route.name}: recording deliveries", exc)
            else:
                log.exception("[%s] could not record the outcome of delivery %s",
                              head["execution_id"], head["id"])
            self._wake.set()

    def _outcome(self, row: Mapping[str, Any], verdict: Verdict, answer: Answer) -> Outcome:
        route = self.route
        state = route.delivered if verdict is Verdict.DELIVERED else route.given_up
        retry_at = None
        if verdict is Verdict.RETRY:
            retry_at = self.settings.backoff.retry_at(int(row["attempts"]) + 1,
                                                      row["created_at"], now())
            if retry_at is not None:
                state = PENDING
        return Outcome(row["id"], state, answer.status, answer.error, answer.ms, retry_at)

    async def attempt(self, line: Line, material: Any) -> Answer:
        """One request for ``line``; never raises."""
        started = time.perf_counter()
        client = self.client
        try:
            if client is None:
                raise RuntimeError("the delivery loop is not running")
            return await self.request(client, line, material)
        except Exception as exc:  # a body that cannot be built must not stop the loop
            return Answer(None, error_of(exc), int((time.perf_counter() - started) * 1000))

    async def _listen(self, stopping: asyncio.Event) -> None:
        """On PostgreSQL, LISTEN for commits of other processes."""
        channel = self.settings.listen
        if channel is None or self.db.dialect.name != "postgresql":
            return
        # lazy: keeps CLI start fast (psycopg loads only on PostgreSQL)
        import psycopg

        url = self.db.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        while not stopping.is_set():
            try:
                aconn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
                async with aconn:
                    await aconn.execute(outbox_store.listen(channel))
                    async for _ in aconn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.warning("%s: LISTEN failed (%s); polling meanwhile", self.route.name,
                                 type(exc).__name__)
                await asyncio.sleep(min(5.0, self.settings.poll * 4))


def _running_in(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether this thread runs ``loop`` (a blocking claim there would stall the loop)."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
