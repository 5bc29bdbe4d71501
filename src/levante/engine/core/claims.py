"""`ClaimedAction`: an action job leased to this process, as the scheduler claims it and
a step hands it over to this process's worker (see `levante.engine.handoff`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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
