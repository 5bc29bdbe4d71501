"""The engine's purge statements: finished workflow trees and delivered events.

A workflow execution goes with every sub-workflow, task and action execution of its tree,
and only when every workflow of the tree has ended, no job of it is queued and every event
about it has been delivered (or given up). Each batch is one short transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, delete, exists, or_, select

from levante.contract.tables import EVENTS as EVENT_ROUTE
from levante.contract.tables import outbox as event_deliveries
from levante.engine import states
from levante.engine.models import (
    action_executions,
    engine_events,
    engine_jobs,
    task_executions,
    workflow_executions,
)

# The engine's final states, by the platform status they are kept as (the policy's names).
FINAL_STATES = {"succeeded": states.SUCCESS, "failed": states.ERROR,
                 "canceled": states.CANCELLED}
DELIVERIES_DONE = ("delivered", "failed")


def _referenced(conn: Connection, root: str) -> bool:
    """Whether anything of this tree still runs or still has to be sent."""
    wf = workflow_executions
    checks = (
        select(wf.c.id).where(wf.c.root_execution_id == root,
                              wf.c.state.not_in(sorted(states.COMPLETED))),
        select(engine_jobs.c.id).where(engine_jobs.c.root_execution_id == root),
        select(engine_events.c.id).where(engine_events.c.root_execution_id == root,
                                         engine_events.c.delivered_at.is_(None)),
        select(event_deliveries.c.id).where(
            event_deliveries.c.route == EVENT_ROUTE,
            event_deliveries.c.root_execution_id == root,
            event_deliveries.c.state.not_in(DELIVERIES_DONE)),
    )
    return any(conn.execute(check.limit(1)).first() is not None for check in checks)


def purge_workflows(conn: Connection, cutoffs: dict[str, datetime], batch: int) -> int:
    """Delete up to `batch` finished top-level workflow executions (with their trees) that
    ended before the cutoff of their state. Returns how many workflow executions went."""
    wf = workflow_executions
    old_enough = [
        and_(wf.c.state == FINAL_STATES[status], wf.c.created_at < cutoff,
             or_(wf.c.updated_at.is_(None), wf.c.updated_at < cutoff))
        for status, cutoff in cutoffs.items() if status in FINAL_STATES
    ]
    if not old_enough:
        return 0
    roots = [row[0] for row in conn.execute(
        select(wf.c.id).where(wf.c.root_execution_id == wf.c.id, or_(*old_enough))
        .order_by(wf.c.created_at).limit(batch)
    )]
    gone = [root for root in roots if not _referenced(conn, root)]
    if not gone:
        return 0
    tasks = select(task_executions.c.id).where(task_executions.c.root_execution_id.in_(gone))
    conn.execute(delete(action_executions).where(
        action_executions.c.task_execution_id.in_(tasks)))
    conn.execute(delete(task_executions).where(task_executions.c.root_execution_id.in_(gone)))
    conn.execute(delete(event_deliveries).where(
        event_deliveries.c.route == EVENT_ROUTE, event_deliveries.c.root_execution_id.in_(gone)))
    conn.execute(delete(engine_events).where(engine_events.c.root_execution_id.in_(gone)))
    result = conn.execute(delete(wf).where(wf.c.root_execution_id.in_(gone)))
    return int(result.rowcount or 0)


def purge_events(conn: Connection, cutoff: datetime, batch: int) -> int:
    """Delete up to `batch` delivered events (and their deliveries) older than `cutoff`."""
    ids = [row[0] for row in conn.execute(
        select(engine_events.c.id)
        .where(engine_events.c.delivered_at.is_not(None), engine_events.c.created_at < cutoff)
        .where(~exists().where(and_(event_deliveries.c.event_id == engine_events.c.id,
                                    event_deliveries.c.state.not_in(DELIVERIES_DONE))))
        .limit(batch)
    )]
    if ids:
        conn.execute(delete(event_deliveries).where(event_deliveries.c.route == EVENT_ROUTE,
                                                    event_deliveries.c.event_id.in_(ids)))
        conn.execute(delete(engine_events).where(engine_events.c.id.in_(ids)))
    return len(ids)
