"""The platform's purge statements: finished execution trees, old output, old reports.

Each batch is one short transaction over at most ``batch`` roots, so live work waits for
one batch at most. An execution goes only with its whole tree (its children, theirs...),
and only when every execution of the tree has ended, none is followed by the results
tracker and no report about it waits to be sent to the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine, and_, delete, exists, or_, select

from levante.contract.tables import REPORTS as REPORT_ROUTE
from levante.contract.tables import outbox as engine_reports
from levante.db.connect import writing
from levante.platform.core.executions import DONE
from levante.platform.core.models import execution_output, executions
from levante.platform.workflows.tables import tracked_executions, workflow_links

REPORTS_DONE = ("acknowledged", "rejected")


def _tree(conn: object, roots: Iterable[str]) -> tuple[set[str], set[str]]:
    """(every id of the trees under `roots`, the ids of those not yet ended)."""
    found: set[str] = set()
    unfinished: set[str] = set()
    level = list(roots)
    while level:
        found.update(level)
        rows = conn.execute(  # type: ignore[attr-defined]
            select(executions.c.id, executions.c.status).where(executions.c.parent.in_(level))
        ).all()
        unfinished.update(r.id for r in rows if r.status not in DONE)
        level = [r.id for r in rows if r.id not in found]
    return found, unfinished


def purge_executions(engine: Engine, cutoffs: dict[str, datetime], batch: int) -> int:
    """Delete one batch of finished top-level executions (with their trees) whose status
    has a cutoff and that ended before it. Returns how many executions went (0: done)."""
    if not cutoffs:
        return 0
    old_enough = or_(*(
        and_(executions.c.status == status, executions.c.start_timestamp < cutoff,
             executions.c.end_timestamp < cutoff)
        for status, cutoff in cutoffs.items()
    ))
    with writing(engine) as conn:
        roots = [row[0] for row in conn.execute(
            select(executions.c.id)
            .where(executions.c.parent.is_(None), old_enough,
                   ~exists().where(tracked_executions.c.execution_id == executions.c.id))
            .order_by(executions.c.start_timestamp)
            .limit(batch)
        )]
        if not roots:
            return 0
        gone: set[str] = set()
        for root in roots:
            tree, unfinished = _tree(conn, [root])
            if unfinished:
                continue
            held = conn.execute(select(tracked_executions.c.execution_id).where(
                tracked_executions.c.execution_id.in_(tree)).limit(1)).first()
            waiting = conn.execute(select(engine_reports.c.id).where(
                engine_reports.c.route == REPORT_ROUTE,
                engine_reports.c.execution_id.in_(tree),
                engine_reports.c.state.not_in(REPORTS_DONE)).limit(1)).first()
            if held is None and waiting is None:
                gone.update(tree)
        if not gone:
            # Every root of the batch is still referenced: stop rather than spin on them.
            return 0
        ids = sorted(gone)
        conn.execute(delete(execution_output).where(execution_output.c.execution_id.in_(ids)))
        conn.execute(delete(workflow_links).where(workflow_links.c.execution_id.in_(ids)))
        conn.execute(delete(engine_reports).where(engine_reports.c.route == REPORT_ROUTE,
                                                  engine_reports.c.execution_id.in_(ids)))
        conn.execute(delete(executions).where(executions.c.id.in_(ids)))
    return len(ids)


def purge_output(engine: Engine, cutoff: datetime, batch: int) -> int:
    """Delete the output lines, written before `cutoff`, of up to `batch` ended executions."""
    with writing(engine) as conn:
        ids = [row[0] for row in conn.execute(
            select(execution_output.c.execution_id).distinct()
            .where(execution_output.c.timestamp < cutoff)
            .where(exists().where(and_(executions.c.id == execution_output.c.execution_id,
                                       executions.c.status.in_(sorted(DONE)))))
            .limit(batch)
        )]
        if not ids:
            return 0
        result = conn.execute(delete(execution_output).where(
            execution_output.c.execution_id.in_(ids), execution_output.c.timestamp < cutoff))
    return int(result.rowcount or 0)


def purge_reports(engine: Engine, cutoff: datetime, batch: int) -> int:
    """Delete up to `batch` reports to the engine, sent (or refused) before `cutoff`."""
    with writing(engine) as conn:
        ids = [row[0] for row in conn.execute(
            select(engine_reports.c.id)
            .where(engine_reports.c.route == REPORT_ROUTE,
                   engine_reports.c.state.in_(REPORTS_DONE),
                   engine_reports.c.created_at < cutoff)
            .limit(batch)
        )]
        if ids:
            conn.execute(delete(engine_reports).where(engine_reports.c.id.in_(ids)))
    return len(ids)
