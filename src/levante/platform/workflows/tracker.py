"""The results tracker: the fallback that polls the engine for workflow executions.

Entries live in `tracked_executions`. Every `[resultstracker] query_interval` seconds all
entries are asked about in batches (`batch_size` ids in one
`GET /v2/executions?id=in:...` request), at most `thread_pool_size` requests in flight.
What the engine answers goes through the receiver's `apply_update`, so an ended execution
gets the same status and result as from an event, and its entry is deleted. An error
(engine down, bad answer) never drops an entry. The silence safety net adds an entry for
every running workflow execution from which no event came for `silence_timeout` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import Engine

from levante.config import Config
from levante.contract.delivery import wait_for_wake
from levante.contract.states import DONE, STATUS_OF, WIRE_STATES, WORKFLOW_TERMINAL
from levante.contract.states import PLATFORM_ACTIVE as ACTIVE
from levante.db import faults
from levante.db.local import local_of
from levante.platform.core import store as platform_store
from levante.platform.workflows import receiver
from levante.platform.workflows import store as ts
from levante.platform.workflows.engine_auth import engine_headers, waited_engine_headers

log = logging.getLogger("levante.platform.resultstracker")

BELL = "results-trackers"  # on the engine's Local: the trackers of this process


def wake_trackers(db: Engine) -> None:
    """Have the trackers of this process on ``db`` poll now (e.g. an event asked for a
    fetch)."""
    local_of(db).bell(BELL).ring()


class TrackError(ValueError):
    """A tracking request that is refused; the message says why."""


# --- adding and removing entries (levante-track-result) ------------------------------------


def _tree(conn: Any, execution_id: str) -> list[dict[str, Any]]:
    """The execution and its workflow descendants, parents first."""
    row = ts.execution(conn, execution_id)
    if row is None:
        raise TrackError(f'Execution "{execution_id}" cannot be found.')
    found = [row]
    queue = [row["id"]]
    while queue:
        for child in ts.workflow_children(conn, queue.pop(0)):
            if receiver.is_workflow(child):
                found.append(child)
                queue.append(child["id"])
    return found


def add_tracking(db: Engine, execution_id: str, reason: str = "manual") -> list[str]:
    """Track a workflow execution and its unfinished workflow children; lines to print."""
    lines: list[str] = []
    with ts.writing(db) as conn:
        tree = _tree(conn, execution_id)
        top = tree[0]
        if not receiver.is_workflow(top):
            runner = (top.get("action") or {}).get("runner_type", "?")
            raise TrackError(f'Execution "{execution_id}" is not a workflow execution '
                             f"(runner {runner}): only workflow executions can be tracked.")
        if top["status"] in DONE:
            raise TrackError(f'Execution "{execution_id}" is already {top["status"]}: '
                             "there is nothing to track.")
        for row in tree:
            if row["status"] in DONE:
                continue
            link = ts.link_of(conn, row["id"])
            wf_id = receiver.engine_id(row) or (link or {}).get("workflow_execution_id")
            if not wf_id:
                if row is top:
                    raise TrackError(f'Execution "{execution_id}" has not started a workflow '
                                     "on the engine yet: there is nothing to track.")
                continue
            if ts.add_entry(conn, row["id"], wf_id, reason):
                lines.append(f'Tracking execution "{row["id"]}" (workflow execution {wf_id}).')
            else:
                lines.append(f'Execution "{row["id"]}" is already tracked: nothing to do.')
    wake_trackers(db)
    return lines


def remove_tracking(db: Engine, execution_id: str) -> list[str]:
    """Stop tracking an execution and its workflow children; lines to print."""
    lines: list[str] = []
    with ts.writing(db) as conn:
        for row in _tree(conn, execution_id):
            if ts.delete_entry(conn, row["id"]):
                lines.append(f'Execution "{row["id"]}" is no longer tracked.')
        if not lines:
            lines.append(f'Execution "{execution_id}" is not tracked: nothing to remove.')
    return lines


def add_silent(db: Engine, silence_timeout: float) -> list[str]:
    """The safety net: track running workflow executions with no event for a while."""
    added: list[str] = []
    cutoff = ts.now() - timedelta(seconds=silence_timeout)
    with ts.writing(db) as conn:
        for row in ts.silent_executions(conn, cutoff):
            if not receiver.is_workflow(row):
                continue
            wf_id = row.get("workflow_execution_id") or receiver.engine_id(row)
            if wf_id and ts.add_entry(conn, row["id"], wf_id, "silence"):
                added.append(row["id"])
    for execution_id in added:
        log.warning('[%s] no event for %g s: the results tracker follows it now',
                    execution_id, silence_timeout)
    return added


def prune(db: Engine) -> int:
    """Drop entries whose platform execution ended (or is gone) by other means."""
    with ts.writing(db) as conn:
        return ts.delete_entries_of_finished(conn)


# --- polling ------------------------------------------------------------------------------


def _json(value: Any) -> Any:
    """Mistral sends JSON fields as JSON text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@dataclass
class PollStats:
    polled: int = 0
    ended: int = 0
    errors: int = 0
    requests: int = 0


LAUNCH_GRACE = 30.0  # s: a workflow whose launch lost its runner, unknown to the engine


def abandon_unlaunched(db: Engine, execution_ids: Sequence[str],
                       workflows: dict[str, str]) -> None:
    """End `abandoned` the executions whose launch was interrupted (their runner died, or
    the engine could not be reached while a start request may have reached it), which
    the engine still does not know after LAUNCH_GRACE seconds: it never started."""
    for execution_id in execution_ids:
        wf_id = workflows.get(execution_id)
        changed = platform_store.transition(
            db, execution_id, sorted(ACTIVE), "abandoned",
            {"end_timestamp": ts.now(), "lease_until": None, "claimed_by": None,
             "result": {"error": f"Execution abandoned: the launch of workflow execution "
                                 f"{wf_id} was interrupted (its runner died, or the engine "
                                 "could not be reached for [runner] launch_retry_seconds), "
                                 "and the engine does not know it: the workflow never "
                                 "started."}})
        with ts.writing(db) as conn:
            ts.delete_entry(conn, execution_id)
        if changed:
            log.warning("[%s] abandoned: the workflow %s never started on the engine",
                        execution_id, wf_id)


class ResultsTracker:
    """The `resultstracker` role."""

    name = "resultstracker"

    def __init__(self, config: Config, engine: Engine, engine_url: str | None = None) -> None:
        self.db = engine
        self.config = config
        self.refusals = faults.RefusalWarnings()
        self.engine_url = (engine_url or config.public_url("engine")).rstrip("/")
        self.interval = config.get_float("resultstracker", "query_interval")
        self.pool_size = config.get_int("resultstracker", "thread_pool_size")
        self.empty_sleep = config.get_float("resultstracker", "empty_q_sleep_time")
        self.no_workers_sleep = config.get_float("resultstracker", "no_workers_sleep_time")
        self.silence_timeout = config.get_float("resultstracker", "silence_timeout")
        self.batch_size = config.get_int("resultstracker", "batch_size")
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stats = PollStats()
        self._seen: dict[str, str] = {}  # workflow execution id -> last state polled

    def wake(self) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake.set)

    async def run(self, stopping: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        local_of(self.db).bell(BELL).add(self.wake)
        silence_every = max(0.5, min(self.silence_timeout / 2, 5.0))
        next_silence = 0.0
        try:
            limits = httpx.Limits(max_connections=self.pool_size,
                                  max_keepalive_connections=self.pool_size)
            headers = await waited_engine_headers(self.config, self.db, log)
            async with httpx.AsyncClient(base_url=self.engine_url, timeout=30.0,
                                         limits=limits, headers=headers) as client:
                self.client = client
                while not stopping.is_set():
                    self._wake.clear()
                    started = time.monotonic()
                    if started >= next_silence:
                        next_silence = started + silence_every
                        with contextlib.suppress(Exception):
                            await asyncio.to_thread(prune, self.db)
                            await asyncio.to_thread(add_silent, self.db, self.silence_timeout)
                    try:
                        count = await self.poll_once(stopping)
                    except Exception as exc:
                        if faults.refuses_writes(exc):
                            self.refusals.warn(log, "results tracker", exc)
                        else:
                            log.exception("results tracker: a round failed; trying again")
                        count = -1
                    pause = self.empty_sleep if count == 0 else (
                        self.interval - (time.monotonic() - started))
                    if count == 0:
                        pause = min(pause, max(0.0, next_silence - time.monotonic()))
                    await _wait(self._wake, stopping, max(0.0, pause))
        finally:
            local_of(self.db).bell(BELL).remove(self.wake)

    async def poll_once(self, stopping: asyncio.Event | None = None) -> int:
        """Ask the engine about every entry once; returns the number of entries."""
        entries = await asyncio.to_thread(ts.all_entries, self.db)
        if not entries:
            return 0
        slots = asyncio.Semaphore(self.pool_size)
        tasks: list[asyncio.Task[None]] = []
        for start in range(0, len(entries), self.batch_size):
            while True:
                if stopping is not None and stopping.is_set():
                    break
                try:
                    await asyncio.wait_for(slots.acquire(), self.no_workers_sleep or None)
                    break
                except TimeoutError:
                    continue
            if stopping is not None and stopping.is_set():
                break
            batch = entries[start:start + self.batch_size]
            tasks.append(asyncio.create_task(self._poll_batch(batch, slots)))
        if tasks:
            await asyncio.gather(*tasks)
        return len(entries)

    async def _poll_batch(self, batch: Sequence[tuple[str, str]],
                          slots: asyncio.Semaphore) -> None:
        try:
            await self._poll(batch)
        except Exception as exc:
            self.stats.errors += len(batch)
            message = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("results tracker: could not poll %d execution(s): %s",
                        len(batch), message)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(ts.record_poll_errors, self.db,
                                        [e for e, _ in batch], message)
        finally:
            slots.release()

    async def _get(self, path: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        self.stats.requests += 1
        # The query is encoded here: httpx's own encoding of a long id list costs more CPU
        # than the rest of a poll.
        query = "&".join(f"{k}={quote(v, safe=':,')}" for k, v in params.items())
        url = self.client.base_url.copy_with(
            path=self.client.base_url.path.rstrip("/") + path, query=query.encode("ascii"))
        response = await self.client.get(url)
        if response.status_code == 401:  # the service key was deleted: make another
            self.client.headers.update(
                await asyncio.to_thread(engine_headers, self.config, self.db))
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}: "
                               f"{response.text[:200]}")
        body = response.json()
        key = path.rsplit("/", 1)[-1]
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise RuntimeError(f"GET {path}: the answer has no list {key!r}")
        return [i for i in items if isinstance(i, dict)]

    async def _poll(self, batch: Sequence[tuple[str, str]]) -> None:
        by_wf = {wf: ex for ex, wf in batch}
        found = await self._get("/v2/executions", {
            "id": "in:" + ",".join(by_wf), "fields": "id,state", "limit": str(len(by_wf)),
        })
        self.stats.polled += len(batch)
        states = {str(item.get("id")): item for item in found}
        # Only a state not seen before (or changed) needs the platform's status.
        fresh = [by_wf[wf] for wf, item in states.items()
                 if wf in by_wf and self._seen.get(wf) != item.get("state")]
        statuses = (await asyncio.to_thread(platform_store.statuses_of, self.db, fresh)
                    if fresh else {})
        ended = [wf for wf, item in states.items()
                 if item.get("state") in WORKFLOW_TERMINAL and wf in by_wf]
        tasks: dict[str, list[dict[str, Any]]] = {wf: [] for wf in ended}
        if ended:
            # Only ended executions: their output and state info, and their tasks.
            for item in await self._get("/v2/executions", {
                "id": "in:" + ",".join(ended), "fields": "id,state,state_info,output",
                "limit": str(len(ended)),
            }):
                if item.get("id") in states:
                    states[str(item["id"])] = item
            for task in await self._get("/v2/tasks", {
                "workflow_execution_id": "in:" + ",".join(ended),
                "limit": "1000", "sort_keys": "created_at",
            }):
                owner = task.get("workflow_execution_id")
                if owner in tasks:
                    task["result"] = _json(task.get("result"))
                    task["published"] = _json(task.get("published"))
                    task["input"] = _json(task.get("input"))
                    tasks[owner].append(receiver.task_entry(task))
        missing = [ex for ex, wf in batch if wf not in states]
        if missing:
            gone = await asyncio.to_thread(ts.unlaunched, self.db, missing, LAUNCH_GRACE)
            if gone:
                await asyncio.to_thread(abandon_unlaunched, self.db, gone, dict(batch))
            missing = [ex for ex in missing if ex not in gone]
        if missing:
            await asyncio.to_thread(ts.record_poll_errors, self.db, missing,
                                    "the engine does not know this workflow execution")
        for wf_id, item in states.items():
            execution_id = by_wf.get(wf_id)
            if execution_id is None:
                continue
            state = item.get("state")
            if state not in WIRE_STATES:
                continue
            if execution_id not in statuses and state not in WORKFLOW_TERMINAL:
                continue  # seen in this state before, and nothing to do then
            self._seen[wf_id] = state
            current = statuses.get(execution_id)
            if current is not None and current not in DONE and state not in WORKFLOW_TERMINAL:
                wanted = STATUS_OF.get(state)
                if wanted is None or wanted == current:
                    continue
            update = receiver.Update(
                workflow_execution_id=wf_id, kind="workflow", state=state,
                state_info=item.get("state_info"),
            )
            if state in WORKFLOW_TERMINAL:
                update.has_output = True
                update.output = _json(item.get("output"))
                update.tasks = tasks.get(wf_id, [])
            applied = await asyncio.to_thread(receiver.apply_update, self.db, update,
                                              execution_id)
            if applied.ended or applied.status == 404:
                self._seen.pop(wf_id, None)
            if applied.ended:
                self.stats.ended += 1
                log.info("[%s] workflow execution %s ended %s (found by the results tracker)",
                         execution_id, wf_id, state)


async def _wait(wake: asyncio.Event, stopping: asyncio.Event, timeout: float) -> None:
    await wait_for_wake(wake, stopping, timeout)
