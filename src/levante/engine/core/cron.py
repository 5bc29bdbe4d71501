"""Cron triggers: start workflows when their schedule comes due.

Each firing starts its workflow exactly once, whatever the number of engine processes and
however they die: the execution id of a firing is derived from (trigger id, due time), the
workflow is started under that id unless it already exists, and only then is the trigger
moved to its next time with a compare-and-set (see `store.definitions.claim_cron_firing`).
A process that dies between the two steps leaves a firing that the next pass finds
started already and only moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from levante.db.connect import writing
from levante.engine.core.runtime import EngineRuntime
from levante.engine.store import definitions as store
from levante.engine.store import queries

log = logging.getLogger("levante.engine.cron")
_FIRING_NAMESPACE = uuid.UUID("5d0c1f52-6a43-4c53-9c0e-3a1f6f1b8e27")


def firing_execution_id(trigger_id: str, due: datetime) -> str:
    """The execution id of one firing: the same in every process."""
    stamp = store.as_utc(due)
    assert stamp is not None
    return str(uuid.uuid5(_FIRING_NAMESPACE, f"{trigger_id}/{stamp.isoformat()}"))


def _start(runtime: EngineRuntime, trigger: dict[str, Any], execution_id: str) -> None:
    with runtime.db.connect() as conn:
        if queries.get_row(conn, queries.executions_listing(), execution_id) is not None:
            return
    try:
        runtime.start_workflow(
            workflow_identifier=trigger["workflow_id"],
            namespace=trigger.get("workflow_namespace") or "",
            input=dict(trigger.get("workflow_input") or {}),
            params=dict(trigger.get("workflow_params") or {}),
            description=f"Workflow execution created by cron trigger '{trigger['id']}'.",
            execution_id=execution_id,
        )
    except (IntegrityError, store.DuplicateError):
        # Another process started this firing at the same moment.
        return


def fire_due(runtime: EngineRuntime, now: datetime | None = None) -> int:
    """Start every due firing once; returns how many firings this call claimed."""
    engine = runtime.db
    now = now or store.utcnow()
    with engine.connect() as conn:
        due_ids = store.due_cron_trigger_ids(conn, now)
    claimed = 0
    for trigger_id in due_ids:
        with engine.connect() as conn:
            trigger = store.get_cron_trigger_by_id(conn, trigger_id)
        if trigger is None or trigger["next_execution_time"] is None:
            continue
        due = trigger["next_execution_time"]
        if due > now:
            continue
        try:
            _start(runtime, trigger, firing_execution_id(trigger_id, due))
        except Exception as exc:
            log.warning("cron trigger %s could not start workflow %s: %s",
                        trigger["name"], trigger["workflow_name"], exc)
        with writing(engine) as conn:
            if store.claim_cron_firing(conn, trigger_id, now, expected_due=due):
                claimed += 1
    return claimed


class CronService:
    """Looks for due cron triggers every `interval` seconds until stopped."""

    name = "engine-cron"

    def __init__(self, runtime: EngineRuntime, interval: float = 1.0) -> None:
        self.runtime = runtime
        self.interval = interval

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await asyncio.to_thread(fire_due, self.runtime)
            except Exception:
                log.exception("cron pass failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=self.interval)
