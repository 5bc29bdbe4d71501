"""The durable work queue's consumer side, as synchronous functions (run in threads).

Two kinds of jobs: `step` jobs (start a workflow, a timer for wait-before / wait-after /
retry / timeout) are taken by deleting them inside the step's own transaction, so a crash
simply rolls the take back. `action` jobs (an action that runs outside any transaction)
are leased to one process; the action execution is marked started before it runs, so a
process that dies mid-action is noticed: the action runs again only if its task is
safe-rerun (or the action is a platform action, whose child the platform creates once
whatever the number of requests), otherwise the task fails with a clear state_info.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from levante.db import faults
from levante.engine import handoff, platform_actions, states
from levante.engine.runtime import writer
from levante.engine.step import INTERRUPTED, SETTINGS, Step
from levante.engine.store import executions as store

log = logging.getLogger("levante.engine.scheduler")

RUNS_SET_ASIDE = (
    "The action was started {n} times by engine processes that stopped before it finished "
    "(max_step_attempts); it is not run again."
)


@dataclass
class ClaimedAction:
    """An action job leased to this process, ready to run."""

    job_id: int
    action: dict[str, Any]
    input: dict[str, Any]
    # The std action to run (the base of an ad-hoc action).
    action_name: str
    task_name: str | None = None

    @classmethod
    def from_job(cls, job_id: int, action: dict[str, Any],
                 payload: Mapping[str, Any]) -> ClaimedAction:
        """The claim of an action job, from the job's payload and the action's row."""
        return cls(job_id, action, dict(payload.get("input") or {}),
                   str(payload.get("action") or action["name"]), payload.get("task_name"))


def process_step_batch(db: Engine, limit: int = 20, owner: str | None = None,
                       lease: float = 15.0) -> tuple[int, datetime | None]:
    """Take and handle up to `limit` due step jobs in one transaction.

    With an `owner` (the worker's process id), the jobs are first leased to it with one
    attempt more, in a transaction of their own: an attempt during which the process
    stops counts too, and a job tried `max_attempts` times is set aside (its workflow
    fails with the reason) instead of being run again. Returns (jobs handled, when the
    next job not held by anyone is due).
    """
    with db.connect() as conn:
        if not store.has_due(conn, "step", store.utcnow()):
            return 0, store.next_due(conn)
    if owner is None:
        return _handle_steps(db, limit, None)
    with writer(db) as conn:
        now = store.utcnow()
        taken = store.take_step_jobs(conn, now, limit)
        ids = [job["id"] for job in taken]
        store.lease_step_jobs(conn, ids, owner, now + timedelta(seconds=lease))
        if not ids:
            return 0, store.next_due(conn)
    roots = sorted({str(job["root_execution_id"]) for job in taken})
    try:
        return _handle_steps(db, limit, (owner, ids, roots))
    except BaseException:
        with contextlib.suppress(Exception), writer(db) as conn:
            store.release_step_jobs(conn, ids, owner)
        raise


def _handle_steps(db: Engine, limit: int, leased: tuple[str, list[int], list[str]] | None,
                  ) -> tuple[int, datetime | None]:
    handled = 0
    done: list[Step] = []
    with writer(db) as conn:
        now = store.utcnow()
        if leased is None:
            jobs = store.take_step_jobs(conn, now, limit)
        else:
            owner, ids, roots = leased
            for root in roots:  # (roots first, then jobs: the order of every step)
                store.lock_root(conn, root)
            jobs = store.leased_step_jobs(conn, ids, owner)
        for job in jobs:
            try:
                with conn.begin_nested():
                    step = Step(conn)
                    store.delete_job(conn, job["id"])
                    if leased is not None and int(job["attempts"]) > SETTINGS.max_attempts:
                        _set_step_aside(step, job)
                    else:
                        handle_step_job(step, job)
                    step.flush()
                done.append(step)
            except Exception as exc:  # a bug: keep the job, retry later, then give up
                if faults.refuses_writes(exc):
                    raise  # not the job's fault: the whole batch is taken up again later
                log.exception("[%s] step job %s failed", job["execution_id"], job["id"])
                _job_failed(conn, job, exc, counted=leased is not None)
            handled += 1
        nxt = store.next_due(conn) if not jobs else None
    for step in done:
        step.after_commit()
    return handled, nxt


STEP_SET_ASIDE = (
    "A step of the workflow was set aside: running it failed or stopped the engine {n} "
    "times (max_step_attempts); see the engine log."
)


def _set_step_aside(step: Step, job: dict[str, Any]) -> None:
    """The job (deleted by the caller) is not run again: its workflow fails instead
    (should failing it have failed or stopped the engine too, the job is just dropped)."""
    attempts = int(job["attempts"])
    reason = STEP_SET_ASIDE.format(n=attempts - 1)
    log.error("[%s] step job %s: %s", job["execution_id"], job["id"], reason)
    if attempts > SETTINGS.max_attempts + 1:
        return
    wf = step.load(job["execution_id"])
    if wf is not None and not states.is_completed(wf.state):
        step.fail(wf, reason)


def _job_failed(conn: Any, job: dict[str, Any], exc: Exception, counted: bool = False) -> None:
    attempts = int(job.get("attempts") or 0) + (0 if counted else 1)
    if attempts < SETTINGS.max_attempts:
        store.postpone_job(conn, job["id"], store.utcnow() + timedelta(seconds=attempts),
                           count=not counted)
        return
    store.delete_job(conn, job["id"])
    try:
        with conn.begin_nested():
            step = Step(conn)
            wf = step.load(job["execution_id"])
            if wf is not None and not states.is_completed(wf.state):
                # The exception (maybe SQL text) is in the log, never in state_info.
                step.fail(wf, "Internal error of the engine while running a step "
                              f"({type(exc).__name__}); see the engine log")
            step.flush()
    except Exception:
        log.exception("[%s] failing the workflow of step job %s failed too; the job is "
                      "dropped", job["execution_id"], job["id"])


def handle_step_job(step: Step, job: dict[str, Any]) -> None:
    payload = job.get("payload") or {}
    event = payload.get("event")
    if event == "start":
        wf = step.load(job["execution_id"])
        if wf is not None:
            step.start(wf)
            step.advance()
    elif event == "timer":
        step.on_timer(payload)
    elif event == "action_wait":
        step.on_action_wait(payload)
    elif event == "advance":
        wf = step.load(job["execution_id"])
        if wf is not None:
            step.touched[wf.id] = wf
            step.advance()
    else:
        log.warning("unknown step job %s: %r", job["id"], event)


def _creates_child(payload: Mapping[str, Any]) -> bool:
    """A platform action: run again, it asks the platform for the child of the same id
    (platform_actions.child_id), which the platform creates once; safe to rerun."""
    name = payload.get("action")
    if not isinstance(name, str) or not platform_actions.is_platform_ref(name):
        return False
    try:
        return isinstance(platform_actions.get_action(name), platform_actions.PlatformAction)
    except Exception:
        return False


def claim_actions(
    db: Engine, owner: str, limit: int, lease: float
) -> list[ClaimedAction]:
    """Lease due action jobs and mark their actions started (one transaction)."""
    claimed: list[ClaimedAction] = []
    done: list[Step] = []
    with db.connect() as conn:
        if not store.has_due(conn, "action", store.utcnow()):
            return []
    with writer(db) as conn:
        now = store.utcnow()
        for job in store.claim_action_jobs(conn, owner, now, lease, limit):
            payload = job.get("payload") or {}
            action = store.get_action(conn, str(payload.get("action_id")))
            if action is None or action["state"] != states.RUNNING:
                store.delete_job(conn, job["id"])
                continue
            rc = dict(action.get("runtime_context") or {})
            given_up = None
            if rc.get("started") and not rc.get("safe_rerun") and \
                    not _creates_child(payload):
                given_up = INTERRUPTED
            elif rc.get("started") and int(rc.get("runs") or 0) >= SETTINGS.max_attempts:
                given_up = RUNS_SET_ASIDE.format(n=int(rc.get("runs") or 0))
            if given_up is not None:
                store.delete_job(conn, job["id"])
                with conn.begin_nested():
                    if action.get("root_execution_id") and action.get("task_execution_id"):
                        store.lock_root(conn, action["root_execution_id"])
                    step = Step(conn)
                    step.action_result(action, states.ERROR, None, given_up)
                    step.flush()
                done.append(step)
                continue
            started = handoff.started(rc, owner, now)
            store.update_action(conn, action["id"], started)
            action.update(started)
            claimed.append(ClaimedAction.from_job(job["id"], action, payload))
    for step in done:
        step.after_commit()
    return claimed


def _mask_stored_input(conn: Any, action_id: str, names: list[str]) -> None:
    """The engine's copy of a platform action's input, with the parameters the platform
    keeps secret masked (the values went to the platform; the engine keeps none)."""
    current = store.get_action(conn, action_id)
    stored = current.get("input") if current is not None else None
    if not isinstance(stored, Mapping):
        return
    masked = platform_actions.masked(stored, names)
    if masked != stored:
        store.update_action(conn, action_id, {"input": masked})


def finish_action(
    db: Engine, claimed: ClaimedAction, state: str | None, value: Any, info: str | None
) -> None:
    """Record an action's outcome and advance its workflow (one transaction).

    `state` None means an asynchronous action was started: its result comes by PUT.
    """
    action = claimed.action
    step: Step | None = None
    with writer(db) as conn:
        root = action.get("root_execution_id")
        if root and action.get("task_execution_id"):
            store.lock_root(conn, root)
        store.delete_job(conn, claimed.job_id)
        if state is None and isinstance(value, Mapping) and value.get("masked"):
            _mask_stored_input(conn, action["id"], value["masked"])
        if state is not None:
            current = store.get_action(conn, action["id"])
            if current is not None and current["state"] == states.RUNNING:
                step = Step(conn)
                step.action_result(current, state, value, info)
                step.flush()
    if step is not None:
        step.after_commit()
