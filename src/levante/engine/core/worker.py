"""The engine worker service: runs steps and actions from the durable queue.

It wakes the moment this process commits new work (`runtime.add_wake_listener`) and, on
PostgreSQL, when another process does (LISTEN); `[engine] poll_interval` is only the
fallback. It registers in `processes`, beats, extends the leases of the actions it runs,
and frees at once the jobs of engine processes on this host that died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from levante.db import faults
from levante.db.connect import writing
from levante.engine import handoff, states
from levante.engine.actions.base import ActionContext, ActionError
from levante.engine.core.claims import ClaimedAction
from levante.engine.core.runtime import EngineRuntime
from levante.engine.core.scheduler import claim_actions, finish_action, process_step_batch
from levante.engine.platform_actions import WAITING, get_action
from levante.engine.store import executions as store

log = logging.getLogger("levante.engine.worker")

ROLE = "engine"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EngineWorker:
    """Runs the engine's queued work until stopped."""

    def __init__(
        self, runtime: EngineRuntime, workers: int = 4, poll_interval: float = 1.0,
        lease: float = 15.0, heartbeat: float = 2.0, step_batch: int = 20,
        name: str = "engine-worker", write_retry: float = 900.0,
    ) -> None:
        self.name = name
        self.refusals = faults.RefusalWarnings()
        # Seconds an action's outcome that the database refused is kept and written again.
        self.write_retry = write_retry
        self.runtime = runtime
        self.db: Engine = runtime.db
        self.workers = max(1, workers)
        self.poll_interval = poll_interval
        self.lease = lease
        self.heartbeat_every = heartbeat
        self.step_batch = step_batch
        self.process_id = store.new_id()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._step_event = asyncio.Event()
        self._action_event = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        # action execution id -> the task running it (to stop actions that were ended,
        # e.g. by a task timeout or a cancel, while they ran)
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._ended: set[str] = set()
        # claims handed over by steps of this process (levante.engine.handoff), not yet
        # started on the loop: counted against `workers`
        self._handed = 0
        # Of the running actions, those that wait for an unavailable platform (see
        # platform_actions.WAITING): they take no room.
        self._waiting: set[str] = set()
        self._full = False  # the last claim may have left due jobs for want of room
        self._claimer = handoff.Claimer(self.process_id, self.lease, self._room,
                                        self._take)

    # --- wake-ups ----------------------------------------------------------------------------

    def _wake_in_loop(self) -> None:
        self._step_event.set()
        self._action_event.set()

    def wake(self) -> None:
        """Thread-safe: new work may be due."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._wake_in_loop)

    def _room(self) -> int:
        if self._loop is None:
            return 0
        return self.workers - len(self._inflight) + len(self._waiting) - self._handed

    def _set_waiting(self, action_id: str, waiting: bool) -> None:
        if waiting:
            self._waiting.add(action_id)
            self._action_event.set()  # room for other actions meanwhile
        else:
            self._waiting.discard(action_id)

    def _take(self, claimed: Sequence[ClaimedAction]) -> None:
        """Thread-safe: run actions a step of this process claimed for this worker."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # their leases run out; another worker takes them up
        self._handed += len(claimed)
        try:
            loop.call_soon_threadsafe(self._start_handed, list(claimed))
        except RuntimeError:
            self._handed -= len(claimed)

    def _start_handed(self, claimed: list[ClaimedAction]) -> None:
        self._handed -= len(claimed)
        self._start(claimed)

    def _start(self, claimed: Sequence[ClaimedAction]) -> None:
        for c in claimed:
            task = asyncio.create_task(self._run_action(c))
            self._inflight.add(task)
            task.add_done_callback(self._action_finished)

    async def _wait(self, event: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=max(timeout, 0.0))

    # --- service -------------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._step_event = asyncio.Event()
        self._action_event = asyncio.Event()
        # A process that starts while the database refuses writes (or drops its
        # connections) waits it out, as every write of a running engine does.
        await faults.retry_writes_async(self._register, self.write_retry,
                                        "the engine process's registration", log)
        self.runtime.add_wake_listener(self.wake)
        handoff.register(self.db, self._claimer)
        loops = [
            asyncio.create_task(self._step_loop(stopping), name="engine-steps"),
            asyncio.create_task(self._action_loop(stopping), name="engine-actions"),
            asyncio.create_task(self._heartbeat_loop(stopping), name="engine-heartbeat"),
        ]
        if self.db.dialect.name == "postgresql":
            loops.append(asyncio.create_task(self._listen_loop(stopping), name="engine-listen"))
        try:
            await stopping.wait()
        finally:
            handoff.unregister(self.db, self._claimer)
            self.runtime.remove_wake_listener(self.wake)
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            if self._running:
                with contextlib.suppress(Exception):
                    self._stop_ended(await asyncio.to_thread(self._ended_of,
                                                             list(self._running)))
            if self._inflight:
                await asyncio.wait(self._inflight, timeout=5.0)
            for task in self._inflight:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._unregister)
            self.runtime.shared.datastore.close()  # its kept-alive connections

    def _register(self) -> None:
        with writing(self.db) as conn:
            store.register_process(conn, self.process_id, ROLE, os.getpid())
        self._reap()

    def _unregister(self) -> None:
        with writing(self.db) as conn:
            store.release_jobs_of(conn, [self.process_id])
            store.unregister_process(conn, self.process_id)

    def _reap(self) -> None:
        """Free the jobs of engine processes that died (same host: pid gone; any host:
        no heartbeat for longer than a lease)."""
        host = socket.gethostname()
        now = store.utcnow()
        with self.db.connect() as conn:
            procs = store.engine_processes(conn, ROLE)
        dead = []
        for p in procs:
            if p["id"] == self.process_id:
                continue
            beat: datetime = p["heartbeat_at"]
            if (p["hostname"] == host and not _pid_alive(int(p["pid"]))) or (
                beat < now - timedelta(seconds=self.lease * 2)
            ):
                dead.append(p["id"])
        if dead:
            with writing(self.db) as conn:
                freed = store.release_jobs_of(conn, dead)
                for pid in dead:
                    store.unregister_process(conn, pid)
            log.info("freed %d job(s) of %d stopped engine process(es)", freed, len(dead))
            self.runtime.wake()

    async def _heartbeat_loop(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await self._wait(stopping, self.heartbeat_every)
            if stopping.is_set():
                return
            try:
                ended = await asyncio.to_thread(self._beat, list(self._running))
            except Exception as exc:
                if faults.refuses_writes(exc):
                    self.refusals.warn(log, "engine heartbeat", exc)
                else:
                    log.exception("engine heartbeat failed")
                continue
            self._stop_ended(ended)

    def _stop_ended(self, ended: list[str]) -> None:
        for action_id in ended:
            task = self._running.get(action_id)
            if task is not None:
                self._ended.add(action_id)
                task.cancel()

    def _beat(self, running: list[str]) -> list[str]:
        """Beat, extend leases, free dead processes' jobs; return the ids of actions this
        process runs that were ended meanwhile (timed out, cancelled)."""
        with writing(self.db) as conn:
            store.heartbeat(conn, self.process_id)
            store.extend_leases(conn, self.process_id,
                                store.utcnow() + timedelta(seconds=self.lease))
        self._reap()
        return self._ended_of(running)

    def _ended_of(self, running: list[str]) -> list[str]:
        if not running:
            return []
        with self.db.connect() as conn:
            return [a for a in running
                    if (row := store.get_action(conn, a)) is None
                    or row["state"] != states.RUNNING]

    async def _step_loop(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            self._step_event.clear()
            try:
                handled, nxt = await asyncio.to_thread(
                    process_step_batch, self.db, self.runtime.shared, self.step_batch,
                    self.process_id,
                    self.lease,
                )
            except Exception as exc:
                if faults.refuses_writes(exc):  # the jobs stay queued: taken up again
                    self.refusals.warn(log, "engine steps", exc)
                else:
                    log.exception("engine step batch failed")
                await self._wait(self._step_event, self.poll_interval)
                continue
            if handled:
                continue
            timeout = self.poll_interval
            if nxt is not None:
                timeout = min(timeout, (nxt - store.utcnow()).total_seconds())
            await self._wait(self._step_event, timeout)

    async def _action_loop(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            self._action_event.clear()
            free = self._room()
            claimed: list[ClaimedAction] = []
            # (full, or the claim took all it could: jobs may be waiting for room)
            self._full = free <= 0
            if free > 0:
                try:
                    claimed = await asyncio.to_thread(
                        claim_actions, self.db, self.runtime.shared, self.process_id, free,
                        self.lease,
                    )
                except Exception as exc:
                    if faults.refuses_writes(exc):
                        self.refusals.warn(log, "claiming actions", exc)
                    else:
                        log.exception("claiming actions failed")
                self._full = len(claimed) >= free
            self._start(claimed)
            if not claimed or len(claimed) >= free:
                await self._wait(self._action_event, self.poll_interval)

    def _action_finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if self._full:  # room again for jobs the last claim had to leave (else: no need)
            self._action_event.set()

    async def _run_action(self, claimed: ClaimedAction) -> None:
        action_row = claimed.action
        action_id = str(action_row["id"])
        WAITING.set(lambda waiting: self._set_waiting(action_id, waiting))
        state: str | None = states.SUCCESS
        value: Any = None
        info: str | None = None
        try:
            action = get_action(claimed.action_name)
            ctx = ActionContext(
                workflow_execution_id=action_row.get("workflow_execution_id"),
                task_execution_id=action_row.get("task_execution_id"),
                action_execution_id=action_row["id"],
                task_name=claimed.task_name,
                callback_url=self._callback(action_row["id"]),
                config=self.runtime.settings.config,
                workflow_name=action_row.get("workflow_name"),
                db=self.db,
            )
            running = asyncio.ensure_future(action.run(claimed.input, ctx))
            self._running[action_row["id"]] = running
            try:
                value = await running
            finally:
                self._running.pop(action_row["id"], None)
                self._waiting.discard(action_id)
            if action.is_async:
                state = None
        except ActionError as exc:
            state, value, info = states.ERROR, exc.result, str(exc)
        except asyncio.CancelledError:
            if action_row["id"] not in self._ended:
                raise  # stopping: the job stays, another run takes it up
            self._ended.discard(action_row["id"])
            state = None  # ended meanwhile: just drop the job
        except Exception as exc:
            state, value, info = states.ERROR, None, f"{type(exc).__name__}: {exc}"
        try:
            # Kept while the database refuses writes, and recorded once it accepts them.
            await faults.retry_writes_async(
                lambda: finish_action(self.db, self.runtime.shared, claimed, state, value,
                                      info),
                self.write_retry, f"the result of action {action_row['id']}", log,
                f"[{action_row.get('workflow_execution_id')}] ")
        except Exception:
            log.exception("[%s] recording the result of action %s failed",
                          action_row.get("workflow_execution_id"), action_row["id"])

    async def _listen_loop(self, stopping: asyncio.Event) -> None:
        # lazy: keeps CLI start fast (psycopg loads only on PostgreSQL)
        import psycopg

        url = self.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not stopping.is_set():
            try:
                aconn = await psycopg.AsyncConnection.connect(url, autocommit=True)
                async with aconn:
                    await aconn.execute(store.LISTEN)
                    self._wake_in_loop()
                    async for _ in aconn.notifies():
                        self._wake_in_loop()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("engine LISTEN connection lost; retrying", exc_info=True)
                await self._wait(stopping, 1.0)


    def _callback(self, action_id: str) -> str | None:
        base = self.runtime.settings.callback_base
        if not base:
            return None
        return f"{base.rstrip('/')}/v2/action_executions/{action_id}"
