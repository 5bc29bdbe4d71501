"""Every SQL statement of the platform's handshake side: the receiver, the results
tracker, launches and the reports to the engine (route ``reports`` of the contract's
``outbox``; the claim and record statements common to both routes are the contract's,
``levante.contract.store``).

The receiver applies one event in one write transaction (`writing`): read the execution
and its link, decide, write the status, result and link. On PostgreSQL the execution row is
locked (`FOR UPDATE`) so that two events of one execution apply one after the other; on
SQLite the transaction begins IMMEDIATE, which serialises writers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from levante.contract import store as outbox_store
from levante.contract.delivery import REPORTS
from levante.contract.states import DONE
from levante.contract.store import Outcome
from levante.contract.tables import REPORTS as ROUTE
from levante.contract.tables import outbox as er
from levante.db.connect import writing
from levante.db.times import aware as aware
from levante.db.times import now as now
from levante.platform.core.models import executions as ex
from levante.platform.stream import changes as stream
from levante.platform.triggers import execution_ends
from levante.platform.workflows.tables import tracked_executions as tr
from levante.platform.workflows.tables import workflow_links as wl

Row = dict[str, Any]
WATCHED_STATUSES = ("requested", "scheduled", "running", "pausing", "paused", "resuming",
                    "canceling", "pending", "delayed")


# --- executions (the platform's table, read and changed by events) ------------------------


# Statements of the receiver's path, built once (building one costs more than running it).
_EXECUTION_FULL = select(ex.c.id, ex.c.status, ex.c.log, ex.c.result, ex.c.context,
                         ex.c.action, ex.c.runner, ex.c.parent).where(ex.c.id == bindparam("b_id"))
_EXECUTION_LOCKED = _EXECUTION_FULL.with_for_update(of=ex)
_EXECUTION = select(ex.c.id, ex.c.status, ex.c.context, ex.c.action, ex.c.parent).where(
    ex.c.id == bindparam("b_id"))
_CAS_EXECUTION = update(ex).where(ex.c.id == bindparam("b_id"),
                                  ex.c.status == bindparam("b_old"))
_LINK_BY_WORKFLOW = select(wl).where(wl.c.workflow_execution_id == bindparam("b_wf"))
_LINK_OF = select(wl).where(wl.c.execution_id == bindparam("b_id"))
_INSERT_LINK_SQLITE = sqlite_insert(wl).on_conflict_do_nothing(
    index_elements=[wl.c.execution_id]).returning(wl.c.execution_id)
_INSERT_LINK_PG = pg_insert(wl).on_conflict_do_nothing(
    index_elements=[wl.c.execution_id]).returning(wl.c.execution_id)
_TOUCH_LINK = update(wl).where(wl.c.execution_id == bindparam("b_id"))
_ENTRY_EXISTS = select(tr.c.execution_id).where(tr.c.execution_id == bindparam("b_id"))
_DELETE_ENTRY = delete(tr).where(tr.c.execution_id == bindparam("b_id"))


def _one(conn: Connection, statement: Any, params: Row) -> Row | None:
    row = conn.execute(statement, params).first()
    return dict(row._mapping) if row else None


def execution_for_update(conn: Connection, execution_id: str) -> Row | None:
    locked = conn.dialect.name == "postgresql"
    return _one(conn, _EXECUTION_LOCKED if locked else _EXECUTION_FULL, {"b_id": execution_id})


def execution(conn: Connection, execution_id: str) -> Row | None:
    return _one(conn, _EXECUTION, {"b_id": execution_id})


def execution_story(conn: Connection, execution_id: str) -> Row | None:
    """What a trace shows of a platform execution."""
    row = conn.execute(
        select(ex.c.id, ex.c.action_ref, ex.c.status, ex.c.log, ex.c.context,
               ex.c.start_timestamp, ex.c.end_timestamp)
        .where(ex.c.id == execution_id)
    ).first()
    return dict(row._mapping) if row else None


def update_execution(conn: Connection, execution_id: str, old_status: str,
                     values: Row) -> bool:
    """Compare-and-set on the status read in this transaction."""
    changed = conn.execute(_CAS_EXECUTION, {"b_id": execution_id, "b_old": old_status, **values})
    if changed.rowcount:
        new_status = values.get("status", old_status)
        if new_status in DONE and old_status not in DONE:
            execution_ends.record_ends(conn, [(execution_id, new_status)])
        stream.record(conn, "update", [execution_id])
    return bool(changed.rowcount)


def execution_context(conn: Connection, execution_id: str) -> Any:
    """An execution's ``context`` (None when it has none, or is not there)."""
    return conn.execute(select(ex.c.context).where(ex.c.id == execution_id)).scalar()


def context_and_user(conn: Connection, execution_id: str) -> Row | None:
    return _one(conn, select(ex.c.context, ex.c.user).where(ex.c.id == bindparam("b_id")),
                {"b_id": execution_id})


def set_context(conn: Connection, execution_id: str, context: Any) -> None:
    conn.execute(update(ex).where(ex.c.id == execution_id).values(context=context))


def move_link(conn: Connection, workflow_execution_id: str, execution_id: str) -> bool:
    """Point the link of a workflow execution to another platform execution; False when
    the workflow execution has no link."""
    return bool(conn.execute(update(wl).where(wl.c.workflow_execution_id == workflow_execution_id)
                             .values(execution_id=execution_id)).rowcount)


def count_children_in(conn: Connection, parent_id: str, statuses: frozenset[str]) -> int:
    """How many executions started by ``parent_id`` are in ``statuses``."""
    return int(conn.execute(
        select(func.count()).select_from(ex)
        .where(ex.c.parent == parent_id, ex.c.status.in_(sorted(statuses)))
    ).scalar() or 0)


def execution_if_in(conn: Connection, execution_id: str, status: str) -> Any:
    """The log, context, action and result of an execution, if it is in ``status``."""
    return conn.execute(select(ex.c.log, ex.c.context, ex.c.action, ex.c.result)
                        .where(ex.c.id == execution_id, ex.c.status == status)).first()


def status_and_result(conn: Connection, execution_id: str) -> Any:
    return conn.execute(select(ex.c.status, ex.c.result)
                        .where(ex.c.id == execution_id)).first()


def parent_id_of(conn: Connection, execution_id: str) -> Any:
    return conn.execute(select(ex.c.parent).where(ex.c.id == execution_id)).scalar()


def status_and_action(conn: Connection, execution_id: str) -> Any:
    """(id, status, action) of an execution, or None."""
    return conn.execute(select(ex.c.id, ex.c.status, ex.c.action)
                        .where(ex.c.id == execution_id)).first()


def action_of(conn: Connection, execution_id: str) -> Any:
    return conn.execute(select(ex.c.action).where(ex.c.id == execution_id)).scalar()


def workflow_children(conn: Connection, parent_id: str) -> list[Row]:
    return [
        dict(r._mapping)
        for r in conn.execute(
            select(ex.c.id, ex.c.status, ex.c.context, ex.c.action, ex.c.parent)
            .where(ex.c.parent == parent_id)
            .order_by(ex.c.start_timestamp, ex.c.id)
        )
    ]


def unfinished_executions(conn: Connection) -> list[Row]:
    """Executions in a status that a workflow may still leave (for the safety net)."""
    return [
        dict(r._mapping)
        for r in conn.execute(
            select(ex.c.id, ex.c.status, ex.c.context, ex.c.action, ex.c.start_timestamp)
            .where(ex.c.status.in_(WATCHED_STATUSES))
        )
    ]


def silent_executions(conn: Connection, cutoff: datetime) -> list[Row]:
    """Unfinished, untracked executions with no event (or launch) since `cutoff`, with the
    workflow execution id of their link when they have one."""
    last = func.coalesce(wl.c.last_event_at, wl.c.created_at, ex.c.start_timestamp)
    tracked = exists().where(tr.c.execution_id == ex.c.id)
    query = (
        select(ex.c.id, ex.c.status, ex.c.context, ex.c.action, ex.c.start_timestamp,
               wl.c.workflow_execution_id)
        .select_from(ex.outerjoin(wl, wl.c.execution_id == ex.c.id))
        .where(ex.c.status.in_(WATCHED_STATUSES), ~tracked, last < cutoff)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


# --- links: platform execution <-> engine workflow execution -------------------------------


def link_by_workflow(conn: Connection, workflow_execution_id: str) -> Row | None:
    return _one(conn, _LINK_BY_WORKFLOW, {"b_wf": workflow_execution_id})


def link_of(conn: Connection, execution_id: str) -> Row | None:
    return _one(conn, _LINK_OF, {"b_id": execution_id})


def insert_link(conn: Connection, execution_id: str, workflow_execution_id: str) -> Row:
    """The link of an execution, made now unless another transaction (an event and the
    results tracker, at once) made it first: then that one, never a duplicate key."""
    row = {"execution_id": execution_id, "workflow_execution_id": workflow_execution_id,
           "last_seq": None, "last_event_at": None, "created_at": now()}
    statement = _INSERT_LINK_PG if conn.dialect.name == "postgresql" else _INSERT_LINK_SQLITE
    inserted = conn.execute(statement, row).first() is not None
    return row if inserted else (link_of(conn, execution_id) or row)


def touch_link(conn: Connection, execution_id: str, seq: int | None) -> None:
    values: Row = {"b_id": execution_id, "last_event_at": now()}
    if seq is not None:
        values["last_seq"] = seq
    conn.execute(_TOUCH_LINK, values)


# --- tracker entries -------------------------------------------------------------------------


def add_entry(conn: Connection, execution_id: str, workflow_execution_id: str,
              reason: str) -> bool:
    """Insert an entry unless one exists; True when inserted."""
    if conn.execute(_ENTRY_EXISTS, {"b_id": execution_id}).first():
        return False
    conn.execute(insert(tr).values(
        execution_id=execution_id, workflow_execution_id=workflow_execution_id, reason=reason,
        created_at=now(), last_polled_at=None, errors=0, last_error=None,
    ))
    return True


def set_reason(conn: Connection, execution_id: str, reason: str, only_if: str) -> None:
    """Give an entry of reason `only_if` another reason, as if made now."""
    conn.execute(update(tr).where(tr.c.execution_id == execution_id, tr.c.reason == only_if)
                 .values(reason=reason, created_at=now(), errors=0, last_error=None))


LAUNCH_REASON = "launch"  # the runner died while it launched the workflow


def launch_again(engine: Engine, execution_id: str, status: str, claimed_by: str) -> bool:
    """A workflow execution whose runner died during the launch: put it back in the queue
    (``requested``, no claim), for another runner to launch again. A launch is idempotent
    (the engine's id is derived from the platform's: a start that already reached the
    engine is answered with that workflow), so this neither loses nor doubles the workflow.
    True when done (the claim was still the dead runner's)."""
    where = (ex.c.id == execution_id, ex.c.status == status, ex.c.claimed_by == claimed_by)
    with writing(engine) as conn:
        found = conn.execute(select(ex.c.log).where(*where)).first()
        if found is None:
            return False
        log = [*(found.log or []), {"timestamp": now().isoformat(), "status": "requested"}]
        return bool(conn.execute(
            update(ex).where(*where)
            .values(status="requested", claimed_by=None, lease_until=None, log=log)
        ).rowcount)


def unlaunched(engine: Engine, execution_ids: Sequence[str], grace: float) -> list[str]:
    """Of `execution_ids` (whose workflows the engine does not know), those tracked since
    their runner died during the launch for more than `grace` seconds: the workflow never
    started."""
    if not execution_ids:
        return []
    before = now() - timedelta(seconds=grace)
    with engine.connect() as conn:
        return [r.execution_id for r in conn.execute(
            select(tr.c.execution_id).where(
                tr.c.execution_id.in_(list(execution_ids)), tr.c.reason == LAUNCH_REASON,
                tr.c.created_at <= before))]


def delete_entry(conn: Connection, execution_id: str) -> bool:
    return bool(conn.execute(_DELETE_ENTRY, {"b_id": execution_id}).rowcount)


def entry(conn: Connection, execution_id: str) -> Row | None:
    row = conn.execute(select(tr).where(tr.c.execution_id == execution_id)).first()
    return dict(row._mapping) if row else None


def all_entries(engine: Engine) -> list[tuple[str, str]]:
    """(execution id, workflow execution id) of every entry."""
    with engine.connect() as conn:
        return [(r.execution_id, r.workflow_execution_id) for r in conn.execute(
            select(tr.c.execution_id, tr.c.workflow_execution_id)
        )]


def record_poll_errors(engine: Engine, execution_ids: Sequence[str], error: str) -> None:
    """Keep the entries, note the error (an error never drops an entry)."""
    if not execution_ids:
        return
    with writing(engine) as conn:
        for chunk in _chunks(execution_ids, 500):
            conn.execute(
                update(tr).where(tr.c.execution_id.in_(chunk))
                .values(errors=tr.c.errors + 1, last_error=error[:1000], last_polled_at=now())
            )


def delete_entries_of_finished(conn: Connection) -> int:
    """Drop entries whose platform execution has ended or is gone."""
    done = select(ex.c.id).where(
        and_(ex.c.id == tr.c.execution_id, ex.c.status.in_(WATCHED_STATUSES))
    ).exists()
    return int(conn.execute(delete(tr).where(~done)).rowcount)


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    seq = list(items)
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


# --- launches ---------------------------------------------------------------------------------


def record_engine_id(db: Engine, execution_id: str, workflow_execution_id: str,
                     workflow_name: str) -> tuple[str | None, dict[str, Any]] | None:
    """Put the engine's id in ``context.mistral``; returns the execution's user and its
    context as it was (None: no such execution)."""
    with writing(db) as conn:
        row = conn.execute(select(ex.c.context, ex.c.user)
                           .where(ex.c.id == execution_id)).first()
        if row is None:
            return None
        before = dict(row.context or {})
        context = dict(before)
        mistral = dict(context.get("mistral") or {})
        mistral.update(execution_id=workflow_execution_id, workflow_name=workflow_name)
        context["mistral"] = mistral
        conn.execute(update(ex).where(ex.c.id == execution_id).values(context=context))
    return (str(row.user) if row.user else None), before


def release_claim(db: Engine, execution_id: str) -> None:
    """The runner no longer holds the execution: its end comes from the engine."""
    with writing(db) as conn:
        conn.execute(update(ex).where(ex.c.id == execution_id)
                     .values(claimed_by=None, lease_until=None))


def track_launched(db: Engine, execution_id: str, workflow_execution_id: str,
                   reason: str) -> None:
    """Hand the execution to the results tracker and release the runner's claim."""
    with writing(db) as conn:
        conn.execute(update(ex).where(ex.c.id == execution_id)
                     .values(claimed_by=None, lease_until=None))
        if not add_entry(conn, execution_id, workflow_execution_id, reason):
            # The silence safety net may have tracked it first (a launch that waits sends
            # no events): the launch's reason decides what an unknown workflow means.
            set_reason(conn, execution_id, reason, only_if="silence")


# --- reports to the engine (the outbox's route "reports") -------------------------------------

REPORT_PENDING = outbox_store.PENDING
REPORT_ACKNOWLEDGED = REPORTS.delivered


def context_and_action(conn: Connection, execution_id: str) -> Row | None:
    return _one(conn, select(ex.c.context, ex.c.action).where(ex.c.id == bindparam("b_id")),
                {"b_id": execution_id})


def as_message(row: Row) -> Row:
    """A report row as the outbox holds it (its line: the engine object it is about)."""
    return {**row, "route": ROUTE, "line": row["target_id"]}


def insert_reports(conn: Connection, rows: Sequence[Row]) -> None:
    conn.execute(insert(er), [as_message(r) for r in rows])


def insert_report(conn: Connection, row: Row) -> int:
    """One report; its id."""
    return int(conn.execute(insert(er).returning(er.c.id), as_message(row)).scalar_one())


def has_pending_report(conn: Connection, target_id: str) -> bool:
    """Whether a report to the same engine object waits (a new one goes behind it)."""
    return conn.execute(
        select(er.c.id).where(er.c.route == ROUTE, er.c.line == target_id,
                              er.c.state == REPORT_PENDING)
        .limit(1)
    ).first() is not None


def children_in(conn: Connection, parent_id: str, statuses: frozenset[str]) -> list[Any]:
    """The children of an execution in ``statuses`` (id, status, log, context, action)."""
    return list(conn.execute(
        select(ex.c.id, ex.c.status, ex.c.log, ex.c.context, ex.c.action)
        .where(ex.c.parent == parent_id, ex.c.status.in_(sorted(statuses)))
    ).all())


def claim_reports(
    db: Engine, limit: int, lease: float, outcomes: Sequence[Outcome] = ()
) -> tuple[list[Row], datetime | None]:
    """One write transaction: record ``outcomes``, then take up to ``limit`` due pending
    reports that head their line (no earlier pending report for the same engine object),
    leased for ``lease`` seconds; with when the earliest pending report is due."""
    with writing(db) as conn:
        if outcomes:
            outbox_store.record(conn, outcomes, REPORT_ACKNOWLEDGED)
        lines = outbox_store.claim(conn, ROUTE, lease, limit)
        return [line[0] for line in lines], outbox_store.pending_due(conn, ROUTE)


def reports_of(db: Engine, execution_id: str) -> list[Row]:
    """Every report an execution caused, oldest first (for tests and tracing)."""
    with db.connect() as conn:
        return outbox_store.messages_of(conn, ROUTE, execution_id)
