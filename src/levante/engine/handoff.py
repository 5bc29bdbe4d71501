"""Hand-off of new action jobs to this process's engine worker, claimed as they are written.

A step that starts an action writes an `action` job; a worker then claims it in a second
write transaction (lease, `runtime_context.started`) before running it. When this process
has an engine worker with room, the step itself writes the job already leased to that
worker and the action already marked started, and hands the claim over in memory after
the commit: one transaction less on a workflow's critical path, and no poll or wake-up
in between. Everything else is as after a claim: the lease, the heartbeat that extends
it, and, if this process dies, another worker taking the job up when the lease runs out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from levante.db.local import local_of
from levante.engine import states


@dataclass(frozen=True)
class Claimer:
    """A worker of this process that takes claimed actions (see EngineWorker)."""

    owner: str  # the process id the jobs are leased to
    lease: float  # seconds
    room: Callable[[], int]  # actions it may still take
    take: Callable[[Sequence[Any]], None]  # ClaimedAction objects, from any thread


class _Claimers:
    """The worker of this process on one database that takes claimed actions (a part of
    the engine's `Local`: a worker registers on the engine its steps write with)."""

    def __init__(self) -> None:
        self.current: Claimer | None = None  # read without the lock: one reference
        self.lock = threading.Lock()  # a register and an unregister of two workers


def register(db: Engine, claimer: Claimer) -> None:
    held = local_of(db).part(_Claimers)
    with held.lock:
        held.current = claimer


def unregister(db: Engine, claimer: Claimer) -> None:
    held = local_of(db).part(_Claimers)
    with held.lock:
        if held.current is claimer:
            held.current = None


def claimer_for(db: Engine) -> Claimer | None:
    """The worker of this process on database `db` that has room now, if any."""
    found = local_of(db).part(_Claimers).current
    if found is None or found.room() <= 0:
        return None
    return found


def started(runtime_context: dict[str, Any] | None, owner: str,
            now: datetime) -> dict[str, Any]:
    """The action columns that mark it started by process `owner` (a claim, or a lease at
    write): one run more, not to be run again unless it is safe to rerun."""
    rc = dict(runtime_context or {})
    rc["started"] = True
    rc["runs"] = int(rc.get("runs", 0)) + 1
    rc["process_id"] = owner
    return {"runtime_context": rc, "last_heartbeat": now, "accepted": True}


def claim_new(
    claimer: Claimer, jobs: list[dict[str, Any]], new_actions: dict[str, dict[str, Any]],
    now: datetime,
) -> list[dict[str, Any]]:
    """Lease the due action jobs of actions created in this step to `claimer` (as many
    as it has room for; the others are claimed as usual) and mark those actions started,
    before they are written. Returns the jobs so leased."""
    leased: list[dict[str, Any]] = []
    until = now + timedelta(seconds=claimer.lease)
    room = claimer.room()
    for job in jobs:
        if len(leased) >= room:
            break
        if job["kind"] != "action" or job["run_at"] > now:
            continue
        action = new_actions.get(str((job.get("payload") or {}).get("action_id")))
        if action is None or action["state"] != states.RUNNING:
            continue
        action.update(started(action["runtime_context"], claimer.owner, now))
        job["claimed_by"] = claimer.owner
        job["lease_until"] = until
        leased.append(job)
    return leased
