"""The notifier's delivery worker: outbox events -> signed HTTP POSTs, at least once, in order.

Each event is fanned out to the subscribers of its execution (`params.notify`: Mistral's
`webhook` entries and the platform's `levante` entry, whose URL and credential come from
`params.env.levante`) and to `[notifier] webhooks`. A delivery is retried with exponential
backoff (`initial_backoff` doubling up to `max_backoff`) until a 2xx answer, or given up
after `max_retry_age`. Bodies are Mistral's notification data (plus `event`, `event_id`
and, for workflow events, `output` and `tasks`), signed with Standard Webhooks headers.
The worker wakes at once when the runtime commits events (`levante.engine.wakeup`, and
LISTEN on PostgreSQL), else looks every `[notifier] poll_interval`. When nothing is in
flight, the in-process wake-up fans out and claims the fresh events in the thread that
committed them, in one transaction, and hands the claimed lines to the event loop to POST:
the hot path from the engine's commit to the platform's then holds one claim transaction,
one request and the receiver's transaction, and no sleep or poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine

from levante.config import Config
from levante.contract import events
from levante.contract.body import PRIVATE_KEYS, EventBody, TaskBody, batch
from levante.contract.delivery import EVENTS, Backoff, Verdict, attempt, wait_for_wake
from levante.contract.signing import signed_headers, signing_secret
from levante.db import faults
from levante.engine import platform_actions, wakeup
from levante.engine.api.encode import fmt_time
from levante.engine.store import outbox

log = logging.getLogger("levante.engine.notifier")

LEASE_MARGIN = 5.0  # beyond request_timeout: a dead process's claims are taken over then
PURGE_EVERY = 600.0  # s between purges of old finished deliveries
BATCH = 50  # events of one line sent together to a `levante` subscriber
SQLITE_WATCH = 0.02  # s between looks at PRAGMA data_version (commits of other processes)
BLOCKED_PAUSE = 0.02  # s: a due delivery that is not the head of its line waits for a wake
FANOUT_BUSY_PAUSE = 0.002  # s: another transaction held the fan-out; look again after it


def backoff(attempts: int, initial: float, maximum: float) -> float:
    """Seconds to wait after the `attempts`-th failed attempt (1, 2, ...)."""
    return Backoff(initial, maximum).delay(attempts)


def retry_time(
    attempts: int, created_at: datetime, now: datetime, initial: float, maximum: float,
    max_age: float,
) -> datetime | None:
    """When to try again after `attempts` failures, or None when it is time to give up."""
    return Backoff(initial, maximum, max_age).retry_at(attempts, created_at, now)


def _fmt(value: Any) -> str | None:
    """Mistral's timestamp of a datetime column (None for anything else)."""
    return fmt_time(value) if isinstance(value, datetime) else None


def task_view(row: Mapping[str, Any]) -> TaskBody:
    """A task as events (and the platform's `result.tasks`) carry it."""
    return {
        "id": row["id"],
        "name": row["name"],
        "workflow_execution_id": row["workflow_execution_id"],
        "workflow_name": row["workflow_name"],
        "workflow_namespace": row.get("workflow_namespace") or "",
        "workflow_id": row.get("workflow_id"),
        "root_execution_id": row.get("root_execution_id"),
        "type": row.get("type"),
        "state": row["state"],
        "state_info": row.get("state_info"),
        "published": row.get("published") or {},
        "result": row.get("result"),
        "project_id": row.get("project_id"),
        "created_at": _fmt(row.get("created_at")),
        "updated_at": _fmt(row.get("updated_at")),
    }


def event_body(delivery: Mapping[str, Any], material: Mapping[str, Any]) -> EventBody:
    """The JSON body of one delivery (identical for every subscriber of the event)."""
    name = delivery["event"]
    event = material["events"].get(delivery["event_id"]) or {}
    raw = event.get("payload")
    payload: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    workflows = material["workflows"]
    wf = workflows.get(delivery["execution_id"]) or {}
    root = workflows.get(delivery["root_execution_id"]) or wf
    body: dict[str, Any]
    if events.is_task_event(name):
        task = material["tasks"].get(delivery["task_execution_id"])
        body = dict(task_view(task)) if task else {
            "id": delivery["task_execution_id"],
            "workflow_execution_id": delivery["execution_id"],
            "root_execution_id": delivery["root_execution_id"],
        }
        body.update({k: v for k, v in payload.items() if k not in PRIVATE_KEYS})
        body["state"] = events.TASK_EVENT_STATES.get(name, body.get("state"))
    else:
        body = {
            "id": delivery["execution_id"],
            "name": wf.get("name"),
            "workflow_name": wf.get("workflow_name"),
            "workflow_namespace": wf.get("workflow_namespace") or "",
            "workflow_id": wf.get("workflow_id"),
            "root_execution_id": delivery["root_execution_id"],
            "task_execution_id": wf.get("task_execution_id"),
            "state_info": wf.get("state_info"),
            "project_id": wf.get("project_id"),
            "created_at": _fmt(wf.get("created_at")),
            "updated_at": _fmt(wf.get("updated_at")),
        }
        body.update({k: v for k, v in payload.items() if k not in PRIVATE_KEYS})
        body["state"] = events.WORKFLOW_EVENT_STATES.get(
            name, body.get("state") or wf.get("state"))
        if events.carries_tasks(name):
            # (an output without `output:` is the whole context, inputs included)
            body["output"] = platform_actions.mask_input(wf.get("output") or {},
                                                         wf.get("params"))
            body["tasks"] = [task_view(t) for t in material["tasks_of"].get(wf.get("id"), [])]
    body["event"] = name
    body["event_id"] = delivery["event_id"]
    body["timestamp"] = _fmt(event.get("created_at")) or _fmt(delivery["created_at"])
    platform_id = outbox.levante_env(root.get("params")).get("execution_id")
    if platform_id:
        body["platform_execution_id"] = platform_id
    # Secret inputs, wherever the workflow put them (published, output, results).
    secrets = platform_actions.secret_values(wf.get("params"), wf.get("input"))
    if secrets:
        body = platform_actions.scrub(body, secrets)
    return body  # type: ignore[return-value]  # (built as a dict, shaped as EventBody)


def message_id(line: Sequence[Mapping[str, Any]]) -> str:
    """The same id for every attempt of the same events to one subscriber."""
    first, last = line[0]["event_id"], line[-1]["event_id"]
    return f"msg_levante_{first}" if first == last else f"msg_levante_{first}-{last}"


def _line(delivery: Mapping[str, Any], after: bool) -> str:
    wf_id = delivery["execution_id"]
    lines = EVENTS.after if after else EVENTS.before
    if events.is_task_event(delivery["event"]):
        return lines["task"].format(wf=wf_id, event=delivery["event"],
                                    subject=delivery["task_execution_id"],
                                    target=delivery["subscriber"])
    return lines["workflow"].format(wf=wf_id, event=delivery["event"], subject=wf_id,
                                    target=delivery["subscriber"])


class DeliveryService:
    """The `notifier` role: fan out, claim, POST, record; woken by commits."""

    name = "notifier"

    def __init__(self, config: Config, engine: Engine) -> None:
        self.config = config
        self.engine = engine
        self.enabled = config.get_bool("notifier", "enabled")
        self.webhooks = config.get_list("notifier", "webhooks")
        self.initial = config.get_float("notifier", "initial_backoff")
        self.maximum = config.get_float("notifier", "max_backoff")
        self.max_age = config.get_float("notifier", "max_retry_age")
        self.backoff = Backoff(self.initial, self.maximum, self.max_age)
        self.poll = config.get_float("notifier", "poll_interval")
        self.timeout = config.get_float("notifier", "request_timeout")
        self.concurrency = config.get_int("notifier", "concurrency")
        self.linger = config.get_float("notifier", "task_event_linger")
        self.lease = self.timeout + LEASE_MARGIN
        self.keep = timedelta(days=config.get_float("notifier", "keep_days"))
        self._next_purge = 0.0
        self.secret = signing_secret(config)
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._watch: Any = None
        self._stopping = False
        self._data_version = -1
        self._due: datetime | None = None  # earliest pending delivery, seen by the last claim
        self._direct = threading.Lock()  # one claim at a time from committing threads
        self._count_lock = threading.Lock()
        self._launching = 0  # lines claimed by a committing thread, not yet started
        self._later_set = False  # a wake-up after `linger` is scheduled

    # -- wake-ups (from any thread) --
    def wake(self) -> None:
        loop = self._loop
        if loop is None:
            return
        if self._claim_here(loop):
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._wake.set)

    def wake_later(self) -> None:
        """Only task events were committed: they may wait `linger` for company, so the
        fan-out is left to the loop then (or to the next urgent wake-up), not done in the
        committing thread, where it would hold the writer lock on a workflow's critical
        path."""
        if self.linger <= 0:
            self.wake()
            return
        loop = self._loop
        if loop is None or self._later_set:
            return
        self._later_set = True
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.call_later, self.linger, self._wake_from_later)

    def _wake_from_later(self) -> None:
        self._later_set = False
        self._wake.set()

    def _claim_here(self, loop: asyncio.AbstractEventLoop) -> bool:
        """When this notifier is idle, fan out and claim in the thread that just committed
        the events, and hand the claimed lines to the event loop: no hop through the loop
        and a worker thread before the claim. True when lines were claimed and handed over
        (their outcome steps the notifier again); else the loop is woken as usual."""
        if (self._stopping or self._in_flight or self._launching or loop.is_closed()
                or _running_in(loop)):
            return False
        if not self._direct.acquire(blocking=False):
            return False
        try:
            lines, material, _ = self._record_and_claim((), self.concurrency, direct=True)
            if not lines:
                return False
            with self._count_lock:
                self._launching += len(lines)
        except Exception:
            return False  # the loop claims them (anything leased is taken up after its lease)
        finally:
            self._direct.release()
        try:
            loop.call_soon_threadsafe(self._launch, lines, material)
        except RuntimeError:  # the loop is closed: the leases run out, another run sends them
            return True
        return True

    def _look_again(self) -> None:
        """Step again shortly (from any thread): the fan-out was held by another
        transaction, which may have missed events committed meanwhile."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.call_later, FANOUT_BUSY_PAUSE, self._wake.set)

    def _launch(self, lines: list[list[dict[str, Any]]], material: dict[str, Any]) -> None:
        try:
            self._start(lines, material)
        finally:
            with self._count_lock:
                self._launching -= len(lines)

    def _start(self, lines: list[list[dict[str, Any]]], material: dict[str, Any]) -> None:
        for line in lines:
            task = asyncio.create_task(self._deliver(line, material))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def run(self, stopping: asyncio.Event) -> None:
        if not self.enabled:
            log.info("notifier disabled ([notifier] enabled = false)")
            await stopping.wait()
            return
        self._loop = asyncio.get_running_loop()
        wakeup.add_listener(self.wake, later=self.wake_later)
        if self.engine.dialect.name == "sqlite":
            self._watch = self.engine.raw_connection()
        listener = asyncio.create_task(self._listen(stopping))
        limits = httpx.Limits(max_connections=self.concurrency * 2,
                              max_keepalive_connections=self.concurrency)
        try:
            async with httpx.AsyncClient(timeout=self.timeout, limits=limits) as client:
                self.client = client
                await self._loop_until(stopping)
                self._stopping = True  # attempts in flight finish; no new ones start
                if self._in_flight:
                    await asyncio.wait(set(self._in_flight), timeout=self.timeout)
        finally:
            wakeup.remove_listener(self.wake)
            if self._watch is not None:
                self._watch.close()
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener

    async def _loop_until(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            self._wake.clear()
            if time.monotonic() >= self._next_purge:
                self._next_purge = time.monotonic() + PURGE_EVERY
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self._purge)
            room = self._room()
            try:
                found = await self.step()
            except Exception as exc:
                if faults.refuses_writes(exc):
                    faults.warn_refused(log, "notifier", exc)
                else:
                    log.exception("notifier: a round of deliveries failed; trying again")
                found, self._due = 0, None
            if found and found >= room:
                continue  # there may be more waiting
            await self._idle(stopping, self._delay())

    def _room(self) -> int:
        return 0 if self._stopping else self.concurrency - len(self._in_flight) - self._launching

    def _delay(self) -> float:
        """How long to sleep when no wake-up comes: until the earliest pending delivery is
        due (seen in the claim's transaction), at most the poll interval. A delivery due
        now that was not claimed waits behind its line (whose outcome wakes this loop)."""
        due = self._due
        if due is None:
            return self.poll
        delay = min(self.poll, (due - outbox.now()).total_seconds())
        return delay if delay > 0 else BLOCKED_PAUSE

    async def _idle(self, stopping: asyncio.Event, delay: float) -> None:
        """Wait for a wake-up, `delay` or the stop. On SQLite, other processes' commits
        are seen by watching `PRAGMA data_version` every SQLITE_WATCH seconds."""
        deadline = time.monotonic() + delay
        while not stopping.is_set() and not self._wake.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            slice_ = min(left, SQLITE_WATCH) if self._watch is not None else left
            await wait_for_wake(self._wake, stopping, slice_)
            # (while attempts are in flight, their outcomes' rounds find any new work)
            if self._watch is not None and not self._in_flight and self._data_changed():
                with contextlib.suppress(Exception):
                    if await asyncio.to_thread(outbox.has_work, self.engine, self.linger):
                        return

    def _purge(self) -> None:
        with outbox.writing(self.engine) as conn:
            gone = outbox.purge(conn, outbox.now() - self.keep)
        if gone:
            log.info("notifier: forgot %d finished deliveries older than %s", gone, self.keep)

    def _data_changed(self) -> bool:
        try:
            assert self._watch is not None
            cursor = self._watch.cursor()
            cursor.execute("PRAGMA data_version")
            version = int(cursor.fetchone()[0])
            cursor.close()
        except Exception:
            return True
        changed = version != self._data_version
        self._data_version = version
        return changed

    async def step(self, outcomes: Sequence[outbox.Outcome] = ()) -> int:
        """One round: record `outcomes`, fan out, claim the heads of lines (one write
        transaction) and start their attempts."""
        room = self._room()
        if room <= 0 and not outcomes:
            return 0
        lines, material, self._due = await asyncio.to_thread(
            self._record_and_claim, outcomes, max(room, 0))
        self._start(lines, material)
        if any(not o.ok for o in outcomes):
            self._wake.set()  # the idle loop times its sleep again, for the retry
        return len(lines)

    def _record_and_claim(
        self, outcomes: Sequence[outbox.Outcome], limit: int, direct: bool = False
    ) -> tuple[list[list[dict[str, Any]]], dict[str, Any], datetime | None]:
        """One write transaction: record `outcomes`, fan out, claim, read the bodies'
        material and (unless `direct`: the outcome's round does it) the next due time."""
        with outbox.writing(self.engine) as conn:
            if outcomes:
                outbox.record(conn, outcomes)
            if limit <= 0:
                return [], {}, outbox.pending_due(conn)
            seen: dict[str, dict[Any, dict[str, Any]]] = {}
            outbox.fanout(conn, self.webhooks, seen=seen, linger=self.linger)
            lines = outbox.claim(conn, self.lease, limit, BATCH)
            flat = [d for line in lines for d in line]
            material = outbox.event_material(conn, flat, seen) if flat else {}
            due = None if direct and lines else outbox.pending_due(conn)
            if "busy" in seen:
                self._look_again()
        return lines, material, due

    async def _deliver(self, line: list[dict[str, Any]], material: Mapping[str, Any]) -> None:
        head = line[0]
        logging_info = log.isEnabledFor(logging.INFO)
        if logging_info:
            for delivery in line:
                log.info(_line(delivery, after=False))
        ok, status, error, duration = await self.attempt(line, material)
        outcomes: list[outbox.Outcome] = []
        for delivery in line:
            if ok:
                outcomes.append(outbox.Outcome(delivery["id"], True, status,
                                               duration_ms=duration))
                if logging_info:
                    log.info(_line(delivery, after=True))
                continue
            retry_at = self.backoff.retry_at(delivery["attempts"] + 1, delivery["created_at"],
                                             outbox.now())
            outcomes.append(outbox.Outcome(delivery["id"], False, status, error, duration,
                                           retry_at))
        if not ok:
            retry_at = outcomes[0].retry_at
            if retry_at is None:
                log.error(EVENTS.give_up, head["execution_id"], head["event"],
                          head["event_id"], head["subscriber"], head["attempts"] + 1, error)
            else:
                log.warning(EVENTS.retry, head["execution_id"], head["event"],
                            head["event_id"], head["subscriber"], head["attempts"] + 1, error,
                            retry_at.isoformat(timespec="milliseconds"))
        try:
            await self.step(outcomes)
        except Exception as exc:
            # The lease runs out and the delivery is tried again: at least once (the
            # receiver is idempotent).
            if faults.refuses_writes(exc):
                faults.warn_refused(log, "notifier: recording deliveries", exc)
            else:
                log.exception("[%s] could not record the outcome of delivery %s",
                              head["execution_id"], head["id"])
            self._wake.set()

    async def attempt(
        self, line: Sequence[Mapping[str, Any]], material: Mapping[str, Any]
    ) -> tuple[bool, int | None, str | None, int]:
        """POST one line of deliveries (one event, or a batch for `levante`); never
        raises. Returns (acknowledged, HTTP status, error, milliseconds)."""
        started = time.perf_counter()
        head = line[0]
        try:
            bodies = [event_body(d, material) for d in line]
            payload = batch(bodies)
            body = json.dumps(payload, default=str).encode("utf-8")
            headers = {"content-type": "application/json", **dict(head["headers"] or {})}
            headers.update(signed_headers(self.secret, message_id(line), body))
            answer = await attempt(EVENTS, self.client, head["url"], content=body,
                                   headers=headers)
        except Exception as exc:  # a body that cannot be built must not stop the worker
            return False, None, f"{type(exc).__name__}: {exc}", _ms(started)
        ok = answer.verdict(EVENTS) is Verdict.DELIVERED
        return ok, answer.status, answer.error, _ms(started)

    async def _listen(self, stopping: asyncio.Event) -> None:
        """On PostgreSQL, LISTEN for commits of other processes."""
        if self.engine.dialect.name != "postgresql":
            return
        # lazy: keeps CLI start fast (psycopg loads only on PostgreSQL)
        import psycopg

        url = self.engine.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        while not stopping.is_set():
            try:
                aconn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
                async with aconn:
                    await aconn.execute(f"LISTEN {wakeup.CHANNEL}")
                    async for _ in aconn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("notifier: LISTEN failed (%s); polling meanwhile",
                            type(exc).__name__)
                await asyncio.sleep(min(5.0, self.poll * 4))


def _running_in(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether this thread runs `loop` (a blocking claim there would stall the loop)."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def delivery_services(config: Config, engine: Engine) -> list[DeliveryService]:
    """The `notifier` role's services (see levante.engine.service:notifier_services)."""
    return [DeliveryService(config, engine)]
