"""The runner loop: claim requested executions, run them, record output and the outcome.

Work is claimed from the database (so any number of runner processes can share it), at
most `[runner] workers` at once. In one process with the API (`levante up`) the runner is
woken the moment an execution is requested or a cancel arrives (from other processes, by
PostgreSQL LISTEN/NOTIFY); besides, it looks every `[runner] poll_interval` seconds.
Wake-ups name the execution, then claimed by primary key; one requested through the API of
this process while a worker is free is stored already claimed and handed over (no claim).
The ends of executions that finish in the same turn of the event loop are written by one
statement. The process beats in the `processes` table; executions whose runner died (no
beat, or its pid gone on this host) end ``abandoned`` with a reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine

from levante.config import Config
from levante.contract.wire import ENGINE_RUNNERS
from levante.db import faults
from levante.identity import keys
from levante.platform.core import executions, store, waits
from levante.platform.runners import (
    RunOutcome,
    RunRequest,
    action_chain,
    run_action,
    sudo_refusal,
)
from levante.platform.workflows import launch as workflow_launch
from levante.platform.workflows import store as ts
from levante.platform.workflows.reports import may_report

# Runners whose actions get the pack config (`self.config`).
CONFIG_RUNNERS = frozenset({"python-script"})

log = logging.getLogger("levante.platform.runner")
# Runners that start a local process: it gets a token (ST2_ACTION_AUTH_TOKEN) for its run.
PROCESS_RUNNERS = frozenset({"local-shell-cmd", "local-shell-script", "python-script"})

T = TypeVar("T")
# An execution that ended: its row, how it ended, and who waits for it to be recorded.
Ended = tuple[dict[str, Any], RunOutcome, "asyncio.Future[None]"]

HEARTBEAT_SECONDS = 2.0
LEASE_SECONDS = 15.0  # a claim lives this long without a heartbeat
TIMEOUT_GRACE_SECONDS = 10.0  # beyond the runner's own timeout handling
OUTPUT_FLUSH_SECONDS = 0.05
OUTPUT_RETRY_SECONDS = 1.0  # output lines the database refused: tried again this often
MAX_KEPT_LINES = 100000  # output lines kept while the database refuses writes
MAX_HINTS = 10000  # beyond, a wake-up just asks for a full claim


class OutputBuffer:
    """Output lines of one execution, written in small batches as they come."""

    def __init__(self, engine: Engine, execution_id: str) -> None:
        self.engine = engine
        self.execution_id = execution_id
        self.seq = 0
        self.pending: list[dict[str, Any]] = []
        self.handle: asyncio.TimerHandle | None = None
        self.stdout: list[str] = []
        self.stderr: list[str] = []

    def add(self, stream: str, text: str) -> None:
        if not text:
            return
        (self.stderr if stream == "stderr" else self.stdout).append(text)
        self.pending.append({
            "execution_id": self.execution_id, "seq": self.seq, "stream": stream,
            "data": text, "timestamp": store.now(),
        })
        self.seq += 1
        if self.handle is None:
            loop = asyncio.get_running_loop()
            self.handle = loop.call_later(OUTPUT_FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        batch, self.pending = self.pending, []
        if batch:
            try:
                store.append_output(self.engine, batch)
            except Exception as exc:
                if faults.refuses_writes(exc) and len(self.pending) + len(batch) < MAX_KEPT_LINES:
                    # Kept and written with the next batch, once writes work again.
                    self.pending = batch + self.pending
                    with contextlib.suppress(RuntimeError):
                        self.handle = asyncio.get_running_loop().call_later(
                            OUTPUT_RETRY_SECONDS, self.flush)
                    return
                log.exception("[%s] could not store %d output line(s)",
                              self.execution_id, len(batch))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_launch(row: dict[str, Any]) -> bool:
    """Whether a claimed execution is a workflow action (its runner launches it)."""
    action = row.get("action")
    runner = action.get("runner_type") if isinstance(action, dict) else None
    return runner in ENGINE_RUNNERS


def _is_chain(row: dict[str, Any]) -> bool:
    action = row.get("action")
    return isinstance(action, dict) and action.get("runner_type") == "action-chain"


def _chain_again(engine: Engine, execution_id: str) -> bool:
    """A chain whose runner is gone: a chain's progress is its children, so it is requested
    again (a runner goes on where it stopped), or ``paused`` when a pause was asked."""
    if store.transition(engine, execution_id, ["pausing"], "paused",
                        {"claimed_by": None, "lease_until": None}):
        return True
    if store.transition(engine, execution_id, executions.ACTIVE - {"pausing"}, "requested",
                        {"claimed_by": None, "lease_until": None}):
        store.notify(engine, "requested", execution_id)
        return True
    return False


def abandon_dead_claims(engine: Engine, own_process: str | None = None) -> list[str]:
    """End ``abandoned`` every claimed execution whose runner process is gone."""
    stamp = store.now()
    # Silent for two leases (as the engine judges its processes): a database that refused
    # writes for a while (no heartbeat could be written) does not make a live runner dead.
    stale_before = stamp - timedelta(seconds=2 * LEASE_SECONDS)
    host = socket.gethostname()
    ended: list[str] = []
    for row in store.claimed_active(engine, sorted(executions.ACTIVE)):
        if row["claimed_by"] in (own_process, store.TIMER_CLAIM):
            continue  # ours, or a wait held by the timers (no process holds it)
        beat = store.aware(row["heartbeat_at"])
        lease = store.aware(row["lease_until"])
        if row["hostname"] is None:
            reason = f"runner process {row['claimed_by']} is not registered any more"
        elif row["hostname"] == host and not _pid_alive(int(row["pid"])):
            reason = (f"runner process {row['pid']} on {host} died while the action was "
                      "running")
        elif beat is not None and beat < stale_before and (lease is None or lease < stamp):
            reason = (f"runner process {row['pid']} on {row['hostname']} sent no heartbeat "
                      f"since {store.iso(beat)}")
        else:
            continue
        if _is_chain(row) and _chain_again(engine, row["id"]):
            log.warning("[%s] %s during the chain: taken again, it goes on from its "
                        "children", row["id"], reason)
            continue
        # A workflow execution held by a runner only while it launches: launching is
        # idempotent, so the launch is done again rather than the execution abandoned
        # (whether or not the start reached the engine).
        if _is_launch(row) and row["status"] == "running" and ts.launch_again(
                engine, row["id"], row["status"], row["claimed_by"]):
            log.warning("[%s] %s during the launch of its workflow: launching it again",
                        row["id"], reason)
            store.notify(engine, "requested", row["id"])
            continue
        changed = store.transition(
            engine, row["id"], [row["status"]], "abandoned",
            {"end_timestamp": stamp, "lease_until": None,
             "result": {"error": f"Execution abandoned: {reason}."}},
        )
        if changed:
            log.warning("[%s] abandoned: %s", row["id"], reason)
            ended.append(row["id"])
    return ended


class RunnerService:
    """A Service of role ``runner``."""

    def __init__(self, config: Config, engine: Engine,
                 launcher: workflow_launch.Launcher | None = None,
                 timers: waits.WaitTimers | None = None) -> None:
        self.name = "platform-runner"
        self.engine = engine
        self.refusals = faults.RefusalWarnings()
        # Ends the waits this runner hands over (core.pause holds no worker).
        self.timers = timers
        # Starts workflow actions on the engine (its settings and caches).
        self.launcher = launcher or workflow_launch.Launcher.from_config(config, engine)
        self.workers = config.get_int("runner", "workers")
        self.allow_sudo = config.get_bool("runner", "allow_sudo")
        self.poll_interval = config.get_float("runner", "poll_interval")
        self.write_retry = faults.retry_timeout(config)
        # Outcomes the database refused to record: written again with backoff.
        self._unrecorded: list[Ended] = []
        self._retrying: asyncio.Task[None] | None = None
        self.api_url = config.public_url("api")
        self.virtualenvs_dir = config.virtualenvs_dir
        self.common_libs = config.get_bool("packs", "enable_common_libs")
        # A workflow launch may wait this long for the engine, whatever the action's
        # timeout (the workflow's own time is not the launch's).
        self.launch_bound = (config.get_float("runner", "launch_retry_seconds")
                             + 3 * config.get_float("runner", "launch_request_timeout"))
        self.process_id = str(uuid.uuid4())
        self.active: dict[str, asyncio.Task[None]] = {}
        # Of `active`, the workflow launches that wait for an unavailable engine: they
        # hold no worker (see workflow_launch.WAITING).
        self.waiting: set[str] = set()
        self.cancel_requested: set[str] = set()
        self.shutting_down = False
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pack_paths: dict[str, str] = {}
        # True when requested work may be waiting: a wake-up, a full claim, or a poll.
        self._backlog = True
        # Ids that wake-ups named, oldest first: claimed by primary key (cheapest); the
        # poll's full claim catches whatever a hint missed.
        self._hints: dict[str, None] = {}
        # Outcomes to record at the end of this turn of the event loop, in one statement.
        self._ended: list[Ended] = []
        # Workers promised to executions the API of this process is storing (see accept).
        self._reserved = 0
        # No other runner process is registered (checked at each heartbeat): the API of
        # this process then need not NOTIFY, as this runner hears of new work in-process.
        self._alone = False
        self._reserve_lock = threading.Lock()

    # -- wake-ups, possibly from other threads --
    def _listener(self, event: str, execution_id: str) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._on_event, event, execution_id)

    # -- executions handed over by the API of this process (executions.Taker) --
    def reserve(self, db: Engine) -> dict[str, Any] | None:
        loop = self._loop
        del db  # (the takers of one engine are asked: its own)
        if loop is None or loop.is_closed():
            return None
        with self._reserve_lock:
            if self.shutting_down or self._free() - self._reserved <= 0:
                return None
            self._reserved += 1
        return {"claimed_by": self.process_id,
                "lease_until": store.now() + timedelta(seconds=LEASE_SECONDS)}

    def _free(self) -> int:
        """Workers not busy: a launch that waits for the engine holds none."""
        return self.workers - len(self.active) + len(self.waiting)

    def _waiting(self, execution_id: str, waiting: bool) -> None:
        if waiting:
            self.waiting.add(execution_id)
            if self._wake is not None:
                self._backlog = True
                self._wake.set()  # its worker may take other work meanwhile
        else:
            self.waiting.discard(execution_id)

    def alone_on(self, db: Engine) -> bool:
        del db
        return self._alone and not self.shutting_down

    def release(self) -> None:
        with self._reserve_lock:
            self._reserved -= 1

    def accept(self, row: dict[str, Any]) -> None:
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._start(row)
            return
        try:
            assert loop is not None
            loop.call_soon_threadsafe(self._start, row)
        except RuntimeError:  # the loop is closed: our claim ends abandoned at next start
            self.release()

    def _start(self, row: dict[str, Any]) -> None:
        with self._reserve_lock:
            self._reserved -= 1
            stopping = self.shutting_down
        if stopping:
            store.transition(
                self.engine, row["id"], executions.ACTIVE, "abandoned",
                {"end_timestamp": store.now(), "lease_until": None,
                 "result": {"error": "Execution abandoned: the runner process stopped "
                                     "before the action started."}},
            )
            return
        self._launch(row)

    def _launch(self, row: dict[str, Any]) -> None:
        task = asyncio.create_task(self._run_one(row), name=f"execution-{row['id']}")
        self.active[row["id"]] = task
        task.add_done_callback(self._done)

    def _on_event(self, event: str, execution_id: str) -> None:
        if event == "canceling":
            self._cancel(execution_id)
        elif self._wake is not None:
            if event == "requested" and execution_id and len(self._hints) < MAX_HINTS:
                self._hints[execution_id] = None
            else:
                self._backlog = True
            self._wake.set()

    def _cancel(self, execution_id: str) -> None:
        task = self.active.get(execution_id)
        if task is not None and not task.done() and execution_id not in self.cancel_requested:
            self.cancel_requested.add(execution_id)
            task.cancel()

    # -- the loop --
    async def run(self, stopping: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        # A runner that starts while the database refuses writes (or drops its
        # connections) waits it out, as every write of a running runner does.
        await faults.retry_writes_async(self._register, self.write_retry,
                                        "the runner's registration", log)
        executions.add_listener(self.engine, self._listener)
        executions.add_taker(self.engine, self)
        beating = asyncio.create_task(self._heartbeats(stopping))
        listening = (None if self.engine.dialect.name == "sqlite"
                     else asyncio.create_task(self._listen(stopping)))
        log.info("runner %s ready: %d worker(s)", self.process_id, self.workers)
        try:
            await self._claim_loop(stopping)
        finally:
            executions.remove_taker(self.engine, self)
            executions.remove_listener(self.engine, self._listener)
            with self._reserve_lock:
                self.shutting_down = True
            for task in list(self.active.values()):
                task.cancel()
            if self.active:
                await asyncio.gather(*self.active.values(), return_exceptions=True)
            for helper in (beating, listening):
                if helper is not None:
                    helper.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await helper
            with contextlib.suppress(Exception):
                store.deregister_process(self.engine, self.process_id)

    async def _claim_loop(self, stopping: asyncio.Event) -> None:
        assert self._wake is not None
        stop_wait = asyncio.create_task(stopping.wait())
        next_check = 0.0
        loop = asyncio.get_running_loop()
        try:
            while not stopping.is_set():
                self._wake.clear()
                free = self._free() - self._reserved
                claimed: list[dict[str, Any]] = []
                if free > 0 and (self._backlog or self._hints):
                    claimed = await self._claim(free)
                for row in claimed:
                    self._launch(row)
                if loop.time() >= next_check:
                    next_check = loop.time() + self.poll_interval
                    self._check_cancels()
                if (claimed and len(claimed) == free) or \
                        (self._hints and free > len(claimed)):
                    await asyncio.sleep(0)
                    continue
                waiter = asyncio.create_task(self._wake.wait())
                await asyncio.wait(
                    {waiter, stop_wait}, timeout=max(0.0, next_check - loop.time()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if not waiter.done():
                    self._backlog = True  # a poll: other processes may have asked
                waiter.cancel()
        finally:
            stop_wait.cancel()

    async def _claim(self, free: int) -> list[dict[str, Any]]:
        """Up to ``free`` executions: those named by wake-ups, else the oldest requested."""
        full = self._backlog
        ids = None if full else list(self._hints)[:free]
        self._backlog = False
        try:
            claimed = await self._db(
                store.claim_requested, self.engine, self.process_id, free, LEASE_SECONDS, ids,
            )
        except Exception as exc:
            self._backlog = True  # the next poll's full claim covers the hints
            self._hints.clear()
            if faults.refuses_writes(exc):
                self.refusals.warn(log, "claiming executions", exc)
                await asyncio.sleep(self.poll_interval)
            else:
                log.exception("could not claim executions; retrying")
            return []
        for execution_id in ids or [row["id"] for row in claimed]:
            self._hints.pop(execution_id, None)
        if full and len(claimed) == free:
            self._backlog = True  # there may be more
        return claimed

    def _done(self, task: asyncio.Task[None]) -> None:
        for key, value in list(self.active.items()):
            if value is task:
                del self.active[key]
                self.cancel_requested.discard(key)
                self.waiting.discard(key)
        if self._wake is not None:
            self._wake.set()

    def _check_cancels(self) -> None:
        """Notice cancels (and outside status changes) made by other processes."""
        if not self.active:
            return
        try:
            statuses = store.statuses_of(self.engine, list(self.active))
        except Exception:
            log.exception("could not read the status of running executions")
            return
        for execution_id, status in statuses.items():
            if status == "canceling" or status in executions.DONE:
                self._cancel(execution_id)

    async def _listen(self, stopping: asyncio.Event) -> None:
        """On PostgreSQL, wake up on NOTIFY from API processes; reconnect when lost."""

        def connected() -> None:
            self._backlog = True  # what was asked while nobody listened
            if self._wake is not None:
                self._wake.set()

        def heard(payload: str) -> None:
            event, execution_id, origin = [*payload.split(":"), "", ""][:3]
            if (origin != store.origin_token(self.engine)
                    or not executions.has_listener(self.engine, self._listener)):
                self._on_event(event, execution_id)

        await store.listen_until(self.engine, stopping, heard, on_connect=connected,
                                 logger=log)

    async def _heartbeats(self, stopping: asyncio.Event) -> None:
        beats = 0
        while not stopping.is_set():
            await asyncio.sleep(HEARTBEAT_SECONDS)
            beats += 1
            try:
                store.heartbeat(self.engine, self.process_id, LEASE_SECONDS)
                self._count_peers()
                if beats % 5 == 0:
                    abandon_dead_claims(self.engine, self.process_id)
            except Exception as exc:
                if faults.refuses_writes(exc):
                    self.refusals.warn(log, "runner heartbeat", exc)
                else:
                    log.exception("heartbeat failed")

    def _count_peers(self) -> None:
        self._alone = store.other_processes(self.engine, "runner", self.process_id) == 0

    async def _db(self, func: Callable[..., T], *args: Any) -> T:
        """Inline, on SQLite and PostgreSQL alike: the claim is one statement (one round
        trip on PostgreSQL), cheaper than two thread hops."""
        return func(*args)

    async def _pack_path(self, pack: str) -> str | None:
        if pack not in self._pack_paths:
            # Waited out, as the outcome's write is, while the database refuses (or drops
            # the connection): a claimed action is not failed for a read of its set-up.
            self._pack_paths = await faults.retry_writes_async(
                lambda: store.pack_paths(self.engine), self.write_retry, "reading the packs",
                log, in_thread=False)
        return self._pack_paths.get(pack)

    async def _run_one(self, row: dict[str, Any]) -> None:
        execution_id = row["id"]
        if self.timers is not None and waits.seconds_to_wait(row) is not None:
            # Only waits: held in the database by the timers, not by this worker.
            if await self._db(waits.defer, self.engine, row, self.process_id):
                self.timers.wake()
            return
        output = OutputBuffer(self.engine, execution_id)
        workflow_launch.WAITING.set(lambda waiting: self._waiting(execution_id, waiting))
        action_chain.DATABASE.set(self.engine)
        action_chain.ALLOW_SUDO.set(self.allow_sudo)
        token_id: str | None = None
        try:
            action = executions.action_meta(row["action"])
            pack_path = await self._pack_path(action.pack)
            env_extra = {
                "ST2_ACTION_EXECUTION_ID": execution_id,
                "LEVANTE_EXECUTION_ID": execution_id,
                "ST2_ACTION_API_URL": f"{self.api_url}/v1",
            }
            if action.runner_type in PROCESS_RUNNERS:
                token_id, env_extra["ST2_ACTION_AUTH_TOKEN"] = \
                    await faults.retry_writes_async(
                        lambda: self._action_token(row), self.write_retry,
                        "the action's token", log, f"[{execution_id}] ")
            request = RunRequest(
                execution_id=execution_id,
                action=action,
                parameters=dict(row["parameters"] or {}),
                timeout=float(row["timeout"]),
                pack_path=Path(pack_path) if pack_path else None,
                pack_config=(await faults.retry_writes_async(
                    lambda: executions.pack_config(self.engine, action.pack),
                    self.write_retry, "reading the pack's config", log,
                    f"[{execution_id}] ", in_thread=False)
                             if action.runner_type in CONFIG_RUNNERS else None),
                allow_sudo=self.allow_sudo,
                env_extra=env_extra,
                virtualenvs_dir=self.virtualenvs_dir,
                common_libs=self.common_libs,
            )
            bound: float | None = row["timeout"] + TIMEOUT_GRACE_SECONDS
            if action.runner_type in ENGINE_RUNNERS:
                bound = max(row["timeout"] + TIMEOUT_GRACE_SECONDS,
                            self.launch_bound + TIMEOUT_GRACE_SECONDS)
            elif action.runner_type == "action-chain":
                bound = None  # a chain lasts as long as its nodes (each with its timeout)
            # (a workflow action is started by this service's launcher; a refused sudo
            # fails it in run_action as any other)
            launches = action.runner_type in ENGINE_RUNNERS and not sudo_refusal(
                action.runner_type, request.parameters, request.allow_sudo)
            run = self.launcher.launch(request) if launches else run_action(request,
                                                                              output.add)
            outcome = await asyncio.wait_for(run, bound)
        except asyncio.CancelledError:
            if token_id is not None:  # not awaited: this task is being cancelled
                asyncio.get_running_loop().run_in_executor(
                    None, self._revoke_token, execution_id, token_id)
            output.flush()
            self._end_interrupted(row, output)
            return
        except TimeoutError:
            outcome = RunOutcome("timeout", {
                "error": f"Action failed to complete in {row['timeout']} seconds",
                "stdout": "".join(output.stdout), "stderr": "".join(output.stderr),
                "return_code": -9, "succeeded": False, "failed": True,
            })
        except Exception as exc:
            log.exception("[%s] the runner failed", execution_id)
            outcome = RunOutcome("failed", {"error": f"The runner failed: {exc}"})
        if token_id is not None:  # before the end is recorded: dead once it shows
            revoked = asyncio.ensure_future(
                asyncio.to_thread(self._revoke_token, execution_id, token_id))
            # Too late to cancel: the outcome is recorded below all the same.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(revoked)
        output.flush()
        if outcome.status == "running":
            # Handed over (a workflow started on the engine): its end arrives from there.
            try:
                await faults.retry_writes_async(
                    lambda: store.set_first_result(self.engine, execution_id, outcome.result),
                    self.write_retry, "the launch", log, f"[{execution_id}] ",
                    in_thread=False)
            except Exception:
                log.exception("[%s] could not record the launch", execution_id)
            return
        # Recorded with the outcomes of the executions that end in the same turn of the
        # event loop (one statement for them all). Shielded: a cancel that comes too late
        # never loses the outcome.
        ended = self._loop_ended(row, outcome)
        try:
            await asyncio.shield(ended)
        except asyncio.CancelledError:
            await ended

    def _register(self) -> None:
        store.register_process(self.engine, self.process_id, "runner")
        abandon_dead_claims(self.engine, self.process_id)
        self._count_peers()

    @staticmethod
    def _token_ttl(row: dict[str, Any]) -> int:
        return int(row["timeout"]) + int(TIMEOUT_GRACE_SECONDS) + 60

    def _action_token(self, row: dict[str, Any]) -> tuple[str, str]:
        """A token of the execution's user for the action (``ST2_ACTION_AUTH_TOKEN``),
        living as long as the action may run; revoked when the run ends. A database that
        refuses writes is waited out, as for every other write of a run."""
        made = faults.retry_writes(
            lambda: keys.create_token(self.engine, str(row.get("user") or "admin"),
                                      self._token_ttl(row)),
            self.write_retry, "the action's token", log, f"[{row['id']}] ")
        return str(made["id"]), str(made["token"])

    def _revoke_token(self, execution_id: str, token_id: str) -> None:
        try:
            faults.retry_writes(lambda: keys.delete_token(self.engine, token_id),
                                self.write_retry, "the revocation of the action's token",
                                log, f"[{execution_id}] ")
        except Exception:
            # It still expires by itself after its TTL.
            log.exception("[%s] could not revoke the action's token", execution_id)

    def _loop_ended(self, row: dict[str, Any], outcome: RunOutcome) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self._ended:
            asyncio.get_running_loop().call_soon(self._record_ended)
        self._ended.append((row, outcome, done))
        return done

    def _record_ended(self) -> None:
        batch, self._ended = self._ended, []
        # Children of workflow tasks end one by one, each with its report to the engine in
        # the same transaction (levante.platform.workflows.reports).
        reported = [b for b in batch if may_report(b[0].get("context"))]
        if reported:
            batch = [b for b in batch if not may_report(b[0].get("context"))]
            self._settle(reported, None)
            if not batch:
                return
        try:
            finished: set[str] | None = store.finish_many(self.engine, [
                (row["id"], outcome.status, outcome.result, row["log"])
                for row, outcome, _ in batch
            ])
        except Exception as exc:
            if faults.refuses_writes(exc):
                self._keep(batch)
                return
            log.exception("could not record %d outcome(s) at once", len(batch))
            finished = None
        self._settle(batch, finished)

    def _settle(self, batch: list[Ended], finished: set[str] | None) -> None:
        """Record each outcome (``finished``: those the batched UPDATE ended); those the
        database refused are kept and tried again (see `_retry_unrecorded`)."""
        refused: list[Ended] = []
        for row, outcome, done in batch:
            if not self._record(row, outcome,
                                None if finished is None else row["id"] in finished):
                refused.append((row, outcome, done))
            elif not done.done():
                done.set_result(None)
        if refused:
            self._keep(refused)

    def _keep(self, batch: list[Ended]) -> None:
        """Outcomes the database refused: kept (their workers wait) and written again with
        backoff, for at most ``[database] write_retry_timeout`` seconds."""
        for row, _outcome, _done in batch:
            log.warning("[%s] the database refuses writes: the outcome is kept and "
                        "recorded once it accepts them again", row["id"])
        self._unrecorded.extend(batch)
        if self._retrying is None or self._retrying.done():
            self._retrying = asyncio.get_running_loop().create_task(self._retry_unrecorded())

    async def _retry_unrecorded(self) -> None:
        deadline = faults.Deadline(self.write_retry)
        started = time.monotonic()
        while self._unrecorded:
            delay = deadline.next_delay()
            if delay is None or self.shutting_down:
                batch, self._unrecorded = self._unrecorded, []
                for row, _outcome, done in batch:
                    log.error("[%s] the outcome could not be recorded: the database refused "
                              "writes for %.0f s", row["id"], time.monotonic() - started)
                    if not done.done():
                        done.set_result(None)
                return
            await asyncio.sleep(delay)
            batch, self._unrecorded = self._unrecorded, []
            refused: list[Ended] = []
            for row, outcome, done in batch:
                if self._record(row, outcome, None, quiet=True):
                    log.info("[%s] outcome recorded after the database accepted writes "
                             "again", row["id"])
                    if not done.done():
                        done.set_result(None)
                else:
                    refused.append((row, outcome, done))
            self._unrecorded = refused + self._unrecorded

    def _record(
        self, row: dict[str, Any], outcome: RunOutcome, finished: bool | None = None,
        quiet: bool = False,
    ) -> bool:
        """Store how the run ended (one UPDATE unless the status changed meanwhile); False
        when the database refused the write (then nothing was stored).

        ``finished`` says whether the batched UPDATE already ended it (None: not tried)."""
        execution_id = row["id"]
        try:
            if finished is None:
                finished = store.finish(self.engine, execution_id, outcome.status,
                                        outcome.result, row["log"],
                                        context=row.get("context"))
            if finished:
                return True
            # Someone changed the status meanwhile (a cancel that came too late).
            status = store.statuses_of(self.engine, [execution_id]).get(execution_id)
            final = "canceled" if status == "canceling" else outcome.status
            store.transition(
                self.engine, execution_id, executions.ACTIVE, final,
                {"result": outcome.result, "end_timestamp": store.now(), "lease_until": None},
            )
        except Exception as exc:
            if faults.refuses_writes(exc):
                if not quiet:
                    log.debug("[%s] outcome refused by the database", execution_id)
                return False
            log.exception("[%s] could not record the outcome", execution_id)
        return True

    def _end_interrupted(self, row: dict[str, Any], output: OutputBuffer) -> None:
        execution_id = row["id"]
        partial = {"stdout": "".join(output.stdout), "stderr": "".join(output.stderr)}
        try:
            if execution_id in self.cancel_requested:
                store.transition(
                    self.engine, execution_id, executions.ACTIVE, "canceled",
                    {"end_timestamp": store.now(), "lease_until": None,
                     "result": {**partial, "error": "Execution canceled by user."}},
                )
            elif self.shutting_down and _is_chain(row) and \
                    _chain_again(self.engine, execution_id):
                pass  # taken again later, from its children
            elif self.shutting_down and _is_launch(row):
                # A launch is idempotent: another runner (or this one, once started again)
                # launches it again, whether or not the start reached the engine. (Not
                # when its claim is released already: handed over, it ends on the engine.)
                if ts.launch_again(self.engine, execution_id, "running", self.process_id):
                    log.warning("[%s] the runner stops during the launch of its workflow: "
                                "it is launched again", execution_id)
                    store.notify(self.engine, "requested", execution_id)
            elif self.shutting_down:
                store.transition(
                    self.engine, execution_id, executions.ACTIVE, "abandoned",
                    {"end_timestamp": store.now(), "lease_until": None,
                     "result": {**partial, "error": "Execution abandoned: the runner process "
                                                    "stopped while the action was running."}},
                )
        except Exception:
            log.exception("[%s] could not record the interruption", execution_id)
