"""Every query of the engine's runtime: executions, the work queue, the outbox, processes.

Functions take an open connection inside the caller's transaction and never commit. Rows
come back as plain dicts with aware UTC datetimes.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Row,
    Table,
    and_,
    delete,
    exists,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError

from levante.db.metadata import processes
from levante.engine.models import (
    action_executions,
    engine_events,
    engine_jobs,
    task_executions,
    workflow_executions,
)

DEFAULT_PROJECT = "<default-project>"
NOTIFY_CHANNEL = "levante_engine"
LISTEN = f"LISTEN {NOTIFY_CHANNEL}"  # run by the worker on a psycopg connection of its own
_NOTIFY_JOBS = text(f"NOTIFY {NOTIFY_CHANNEL}")  # wakes the workers of every process
# Notifier processes LISTEN here for committed outbox events (`levante.engine.wakeup`).
EVENTS_CHANNEL = "levante_engine_events"


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _row(row: Row[Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    data = dict(row._mapping)
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = as_utc(value)
    return data


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


# --- bulk inserts on the hot path ------------------------------------------------------------
# Rows of a step are inserted with precompiled SQL and values converted here exactly as the
# column types would convert them (JSON text, SQLite's datetime text): this skips the
# statement compilation and per-value type processing of SQLAlchemy, which is most of the
# cost of starting a short workflow.

_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
@cache
def _insert_plan(table: Table, dialect: str) -> tuple[str, list[tuple[str, str]]]:
    """The INSERT of every column of `table` for `dialect` and how each value converts:
    a function of the schema alone, memoized (the list is never changed)."""
    columns = [
        (c.name, "json" if isinstance(c.type, JSON) else
         "datetime" if isinstance(c.type, DateTime) else "")
        for c in table.c
    ]
    mark = "?" if dialect == "sqlite" else "%s"
    names = ", ".join(f'"{n}"' for n, _ in columns)
    sql = (f'INSERT INTO "{table.name}" ({names}) '
           f"VALUES ({', '.join(mark for _ in columns)})")
    return sql, columns


def _insert_values(
    table: Table, dialect: str, rows: Sequence[Mapping[str, Any]]
) -> tuple[str, list[tuple[Any, ...]]]:
    sql, columns = _insert_plan(table, dialect)
    sqlite = dialect == "sqlite"
    values = []
    for row in rows:
        out: list[Any] = []
        for name, kind in columns:
            v = row.get(name)
            if kind == "json":
                v = json.dumps(v)
            elif kind == "datetime" and v is not None and sqlite:
                v = v.astimezone(UTC).strftime(_SQLITE_DATETIME) if v.tzinfo else \
                    v.strftime(_SQLITE_DATETIME)
            out.append(v)
        values.append(tuple(out))
    return sql, values


def _fast_insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        conn.execute(insert(table), list(rows))
        return
    sql, values = _insert_values(table, dialect, rows)
    if len(values) == 1:
        conn.exec_driver_sql(sql, values[0])
    else:
        conn.exec_driver_sql(sql, values)


Read = tuple[str, tuple[Any, ...]]


Update = tuple[Table, str, Mapping[str, Any]]


@cache
def _update_plan(table: Table, columns: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The PostgreSQL UPDATE by id of `columns` of `table` and how each value converts:
    a function of the schema alone, memoized."""
    kinds = tuple(("json" if isinstance(table.c[k].type, JSON) else "") for k in columns)
    sets = ", ".join(f'"{k}" = %s' for k in columns)
    return f'UPDATE "{table.name}" SET {sets} WHERE "id" = %s', kinds


def _update_statement(
    table: Table, row_id: str, values: Mapping[str, Any]
) -> tuple[str, list[Any]]:
    """PostgreSQL `UPDATE table SET ... WHERE id = row_id`, values converted as in inserts."""
    sql, kinds = _update_plan(table, tuple(values))
    params = [json.dumps(v) if kind == "json" else v
              for v, kind in zip(values.values(), kinds, strict=True)]
    params.append(row_id)
    return sql, params


def write_batch(
    conn: Connection, inserts: Sequence[tuple[Table, Sequence[Mapping[str, Any]]]],
    reads: Sequence[Read] = (), updates: Sequence[Update] = (),
) -> list[tuple[Any, ...] | None]:
    """Run `reads` (SQL answering at most one row each; their first rows are returned),
    insert rows into several tables, then update rows by id.

    On PostgreSQL everything goes in one pipeline: one round trip to the server instead of
    one per statement (the transaction's BEGIN rides along). Errors come back as
    SQLAlchemy's (IntegrityError...), and the transaction is then aborted as usual.
    """
    if not is_postgres(conn):
        found = [_first(conn.exec_driver_sql(sql, params).first()) for sql, params in reads]
        for table, rows in inserts:
            _fast_insert(conn, table, rows)
        for table, row_id, values in updates:
            conn.execute(update(table).where(table.c.id == row_id).values(**values))
        return found
    # lazy: keeps CLI start fast (psycopg loads only on PostgreSQL)
    import psycopg

    raw: Any = conn.connection.driver_connection
    cursors: list[Any] = []
    statement, parameters = "", ()  # (for the error)
    try:
        with raw.pipeline():
            for sql, params in reads:
                statement, parameters = sql, params
                cur = raw.cursor()
                cursors.append(cur)
                cur.execute(sql, params)
            writes = raw.cursor()
            cursors.append(writes)
            for table, rows in inserts:
                if rows:
                    statement, tuples = _insert_values(table, "postgresql", rows)
                    writes.executemany(statement, tuples)
            for table, row_id, changes in updates:
                statement, args = _update_statement(table, row_id, changes)
                writes.execute(statement, args)
        return [_first(cur.fetchone()) for cur in cursors[: len(reads)]]
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, parameters, exc, psycopg.Error) from exc
    finally:
        for cur in cursors:
            cur.close()


def _first(row: Any) -> tuple[Any, ...] | None:
    return None if row is None else tuple(row)


# --- which definition a start names ---------------------------------------------------------

_STAMP_BY_ID = "SELECT id, checksum, updated_at FROM workflow_definitions WHERE id = {m}"
_STAMP_BY_NAME = (
    "SELECT id, checksum, updated_at FROM workflow_definitions "
    "WHERE name = {m} AND namespace = {m} AND project_id = {m}"
)


def stamp_reads(dialect: str, identifier: str, namespace: str, by_id: bool) -> list[Read]:
    """The queries behind `definition_stamp`, in lookup order (for `write_batch`)."""
    m = "?" if dialect == "sqlite" else "%s"
    reads: list[Read] = []
    if by_id:
        reads.append((_STAMP_BY_ID.format(m=m), (identifier,)))
    for ns in dict.fromkeys([namespace or "", ""]):
        reads.append((_STAMP_BY_NAME.format(m=m), (identifier, ns, DEFAULT_PROJECT)))
    return reads


def first_stamp(found: Sequence[tuple[Any, ...] | None]) -> tuple[Any, ...] | None:
    """The stamp `definition_stamp` would answer, from the rows of `stamp_reads`."""
    return next((row for row in found if row is not None), None)


def definition_stamp(
    conn: Connection, identifier: str, namespace: str, by_id: bool
) -> tuple[Any, ...] | None:
    """(id, checksum, updated_at) of the workflow definition a start names, looked up as
    `definitions.get_workflow_spec` does (id, else name in `namespace` then in the default
    namespace): a cheap check that a cached parsed definition is still current."""
    for sql, params in stamp_reads(conn.dialect.name, identifier, namespace, by_id):
        row = conn.exec_driver_sql(sql, params).first()
        if row is not None:
            return tuple(row)
    return None


# --- workflow executions -------------------------------------------------------------------

def insert_workflows(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    _fast_insert(conn, workflow_executions, rows)


def write_executions(
    conn: Connection, workflows: Sequence[Mapping[str, Any]],
    tasks: Sequence[Mapping[str, Any]], actions: Sequence[Mapping[str, Any]],
    reads: Sequence[Read] = (),
    workflow_updates: Mapping[str, Mapping[str, Any]] | None = None,
    task_updates: Mapping[str, Mapping[str, Any]] | None = None,
    action_updates: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[tuple[Any, ...] | None]:
    """New executions of a step and changes to existing ones (by id), with checks read
    beside them: one round trip on PostgreSQL (see `write_batch`)."""
    updates: list[Update] = []
    for table, changes in ((workflow_executions, workflow_updates),
                           (task_executions, task_updates),
                           (action_executions, action_updates)):
        updates += [(table, row_id, values) for row_id, values in (changes or {}).items()
                    if values]
    return write_batch(
        conn,
        [(workflow_executions, workflows), (task_executions, tasks),
         (action_executions, actions)],
        reads, updates,
    )


def update_workflow(conn: Connection, ex_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(
        update(workflow_executions).where(workflow_executions.c.id == ex_id).values(**values)
    )


def get_workflow(conn: Connection, ex_id: str) -> dict[str, Any] | None:
    return _row(
        conn.execute(select(workflow_executions).where(workflow_executions.c.id == ex_id)).first()
    )


def lock_root(conn: Connection, root_id: str) -> bool:
    """Serialise work on one tree of executions (row lock on PostgreSQL; SQLite writers
    are serialised by BEGIN IMMEDIATE). False when the root no longer exists."""
    query = select(workflow_executions.c.id).where(workflow_executions.c.id == root_id)
    if is_postgres(conn):
        query = query.with_for_update()
    return conn.execute(query).first() is not None


def child_workflows(conn: Connection, task_ids: Sequence[str]) -> list[dict[str, Any]]:
    if not task_ids:
        return []
    rows = conn.execute(
        select(workflow_executions)
        .where(workflow_executions.c.task_execution_id.in_(list(task_ids)))
        .order_by(workflow_executions.c.created_at)
    ).all()
    return [d for d in map(_row, rows) if d is not None]


def tree_ids(conn: Connection, root_id: str) -> list[str]:
    rows = conn.execute(
        select(workflow_executions.c.id).where(
            workflow_executions.c.root_execution_id == root_id
        )
    ).all()
    return [r[0] for r in rows]


def delete_tree(conn: Connection, ex_id: str) -> None:
    """Delete a workflow execution with its sub-workflows, tasks, actions and jobs."""
    ids = [ex_id]
    frontier = [ex_id]
    while frontier:
        tasks = conn.execute(
            select(task_executions.c.id).where(
                task_executions.c.workflow_execution_id.in_(frontier)
            )
        ).all()
        task_ids = [t[0] for t in tasks]
        frontier = []
        if task_ids:
            children = conn.execute(
                select(workflow_executions.c.id).where(
                    workflow_executions.c.task_execution_id.in_(task_ids)
                )
            ).all()
            frontier = [c[0] for c in children]
            ids.extend(frontier)
    conn.execute(delete(engine_jobs).where(engine_jobs.c.execution_id.in_(ids)))
    conn.execute(
        delete(action_executions).where(action_executions.c.workflow_execution_id.in_(ids))
    )
    conn.execute(delete(task_executions).where(task_executions.c.workflow_execution_id.in_(ids)))
    conn.execute(delete(workflow_executions).where(workflow_executions.c.id.in_(ids)))


# --- task executions -----------------------------------------------------------------------

def tasks_of(conn: Connection, wf_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(task_executions)
        .where(task_executions.c.workflow_execution_id == wf_id)
        .order_by(task_executions.c.created_at, task_executions.c.id)
    ).all()
    return [d for d in map(_row, rows) if d is not None]


def get_task(conn: Connection, task_id: str) -> dict[str, Any] | None:
    return _row(conn.execute(select(task_executions).where(task_executions.c.id == task_id))
                .first())


def insert_tasks(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    _fast_insert(conn, task_executions, rows)


def update_task(conn: Connection, task_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(update(task_executions).where(task_executions.c.id == task_id).values(**values))


# --- action executions ---------------------------------------------------------------------

def insert_actions(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    _fast_insert(conn, action_executions, rows)


def update_action(conn: Connection, action_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(
        update(action_executions).where(action_executions.c.id == action_id).values(**values)
    )


def get_action(conn: Connection, action_id: str) -> dict[str, Any] | None:
    return _row(
        conn.execute(select(action_executions).where(action_executions.c.id == action_id))
        .first()
    )


def actions_of_task(conn: Connection, task_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(action_executions)
        .where(action_executions.c.task_execution_id == task_id)
        .order_by(action_executions.c.created_at, action_executions.c.id)
    ).all()
    return [d for d in map(_row, rows) if d is not None]


def running_actions_of_tasks(conn: Connection, task_ids: Sequence[str]) -> list[dict[str, Any]]:
    if not task_ids:
        return []
    rows = conn.execute(
        select(action_executions).where(
            action_executions.c.task_execution_id.in_(list(task_ids)),
            action_executions.c.state == "RUNNING",
        )
    ).all()
    return [d for d in map(_row, rows) if d is not None]


# --- the work queue ------------------------------------------------------------------------

def enqueue(conn: Connection, jobs: Sequence[dict[str, Any]]) -> None:
    """Add jobs; on PostgreSQL other processes are woken when the transaction commits."""
    if not jobs:
        return
    now = utcnow()
    rows = [
        {
            "kind": j["kind"],
            "root_execution_id": j["root_execution_id"],
            "execution_id": j["execution_id"],
            "payload": j.get("payload") or {},
            "run_at": j.get("run_at") or now,
            "claimed_by": j.get("claimed_by"),
            "lease_until": j.get("lease_until"),
            "attempts": 0,
            "created_at": now,
        }
        for j in jobs
    ]
    # Jobs leased at write (levante.engine.handoff) need their ids back.
    leased = [(j, r) for j, r in zip(jobs, rows, strict=True) if r["claimed_by"]]
    free = [r for r in rows if not r["claimed_by"]]
    if free:
        conn.execute(insert(engine_jobs), free)
    if leased:
        ids = conn.execute(
            insert(engine_jobs).returning(engine_jobs.c.id, sort_by_parameter_order=True),
            [r for _, r in leased],
        ).scalars().all()
        for (job, _), job_id in zip(leased, ids, strict=True):
            job["id"] = job_id
    if is_postgres(conn) and any(r["run_at"] <= now for r in free):
        conn.execute(_NOTIFY_JOBS)


def take_step_jobs(conn: Connection, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Due step jobs that nobody holds (or whose lease ran out), locked for this transaction
    (with their roots on PostgreSQL, skipping roots another process is working on)."""
    j = engine_jobs
    free = or_(j.c.claimed_by.is_(None), j.c.lease_until < now)
    if is_postgres(conn):
        query = (
            select(j)
            .join(workflow_executions, workflow_executions.c.id == j.c.root_execution_id)
            .where(j.c.kind == "step", j.c.run_at <= now, free)
            .order_by(j.c.run_at, j.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=[j, workflow_executions])
        )
    else:
        query = (
            select(j)
            .where(j.c.kind == "step", j.c.run_at <= now, free)
            .order_by(j.c.run_at, j.c.id)
            .limit(limit)
        )
    return [d for d in map(_row, conn.execute(query).all()) if d is not None]


def lease_step_jobs(conn: Connection, ids: Sequence[int], owner: str,
                    until: datetime) -> None:
    """Count one more attempt at these step jobs and lease them to `owner` (committed
    before they are handled, so that an attempt whose process stops counts too)."""
    if ids:
        conn.execute(
            update(engine_jobs).where(engine_jobs.c.id.in_(list(ids))).values(
                claimed_by=owner, lease_until=until, attempts=engine_jobs.c.attempts + 1)
        )


def leased_step_jobs(conn: Connection, ids: Sequence[int],
                     owner: str) -> list[dict[str, Any]]:
    """The step jobs among `ids` still leased to `owner`, locked for this transaction."""
    j = engine_jobs
    query = (select(j).where(j.c.id.in_(list(ids)), j.c.claimed_by == owner)
             .order_by(j.c.run_at, j.c.id))
    if is_postgres(conn):
        query = query.with_for_update()
    return [d for d in map(_row, conn.execute(query).all()) if d is not None]


def release_step_jobs(conn: Connection, ids: Sequence[int], owner: str) -> None:
    if ids:
        conn.execute(
            update(engine_jobs)
            .where(engine_jobs.c.id.in_(list(ids)), engine_jobs.c.claimed_by == owner)
            .values(claimed_by=None, lease_until=None)
        )


def has_due(conn: Connection, kind: str, now: datetime) -> bool:
    """A cheap read: is a job of `kind` due and free (no lock taken)?"""
    j = engine_jobs
    query = select(j.c.id).where(j.c.kind == kind, j.c.run_at <= now,
                                 or_(j.c.claimed_by.is_(None), j.c.lease_until < now))
    return conn.execute(query.limit(1)).first() is not None


def delete_job(conn: Connection, job_id: int) -> None:
    conn.execute(delete(engine_jobs).where(engine_jobs.c.id == job_id))


def postpone_job(conn: Connection, job_id: int, run_at: datetime,
                 count: bool = True) -> None:
    """Try a job again at `run_at`, one attempt more (unless it was `count`ed already)."""
    values: dict[str, Any] = {"run_at": run_at, "claimed_by": None, "lease_until": None}
    if count:
        values["attempts"] = engine_jobs.c.attempts + 1
    conn.execute(update(engine_jobs).where(engine_jobs.c.id == job_id).values(**values))


def claim_action_jobs(
    conn: Connection, owner: str, now: datetime, lease: float, limit: int
) -> list[dict[str, Any]]:
    """Lease due action jobs that nobody holds (or whose lease ran out) to `owner`.

    A lease that ran out is taken over only from another process that stopped beating for
    twice a lease (as `_reap` judges it): a database that refused writes for a while (so
    that no lease could be extended) must not turn running actions into interrupted ones.
    """
    j = engine_jobs
    beating = exists().where(
        processes.c.id == j.c.claimed_by,
        processes.c.heartbeat_at >= now - timedelta(seconds=lease * 2),
    )
    cond = and_(
        j.c.kind == "action",
        j.c.run_at <= now,
        or_(j.c.claimed_by.is_(None),
            and_(j.c.lease_until < now, j.c.claimed_by != owner, ~beating)),
    )
    query = select(j.c.id).where(cond).order_by(j.c.run_at, j.c.id).limit(limit)
    if is_postgres(conn):
        query = query.with_for_update(skip_locked=True)
    ids = [r[0] for r in conn.execute(query).all()]
    if not ids:
        return []
    until = now + timedelta(seconds=lease)
    conn.execute(
        update(j).where(j.c.id.in_(ids)).values(
            claimed_by=owner, lease_until=until, attempts=j.c.attempts + 1
        )
    )
    rows = conn.execute(select(j).where(j.c.id.in_(ids)).order_by(j.c.id)).all()
    return [d for d in map(_row, rows) if d is not None]


def extend_leases(conn: Connection, owner: str, until: datetime) -> None:
    conn.execute(
        update(engine_jobs).where(engine_jobs.c.claimed_by == owner).values(lease_until=until)
    )


def release_jobs_of(conn: Connection, owners: Sequence[str]) -> int:
    """Make the jobs of dead processes claimable at once."""
    if not owners:
        return 0
    result = conn.execute(
        update(engine_jobs)
        .where(engine_jobs.c.claimed_by.in_(list(owners)))
        .values(claimed_by=None, lease_until=None)
    )
    return int(result.rowcount or 0)


def next_due(conn: Connection) -> datetime | None:
    """When the earliest job not held by anyone is due (None: the queue is empty)."""
    j = engine_jobs
    row = conn.execute(
        select(j.c.run_at).where(j.c.claimed_by.is_(None)).order_by(j.c.run_at).limit(1)
    ).first()
    return as_utc(row[0]) if row is not None else None


def count_jobs(conn: Connection) -> int:
    return len(conn.execute(select(engine_jobs.c.id)).all())


# --- the outbox ----------------------------------------------------------------------------

def insert_events(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    values = list(rows)
    if values:
        conn.execute(insert(engine_events), values)


_NOTIFY_EVENTS = text(f"SELECT pg_notify('{EVENTS_CHANNEL}', '')")


def notify_events(conn: Connection) -> None:
    """A NOTIFY on :data:`EVENTS_CHANNEL` (PostgreSQL), delivered when `conn`'s
    transaction, which wrote outbox events, commits: notifier processes wake at once."""
    conn.execute(_NOTIFY_EVENTS)


def events_of(conn: Connection, execution_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(engine_events)
        .where(engine_events.c.root_execution_id == execution_id)
        .order_by(engine_events.c.id)
    ).all()
    return [d for d in map(_row, rows) if d is not None]


# --- processes -----------------------------------------------------------------------------

def register_process(conn: Connection, process_id: str, role: str, pid: int) -> None:
    now = utcnow()
    conn.execute(
        insert(processes).values(
            id=process_id, role=role, hostname=socket.gethostname(), pid=pid,
            started_at=now, heartbeat_at=now,
        )
    )


def heartbeat(conn: Connection, process_id: str) -> None:
    conn.execute(
        update(processes).where(processes.c.id == process_id).values(heartbeat_at=utcnow())
    )


def unregister_process(conn: Connection, process_id: str) -> None:
    conn.execute(delete(processes).where(processes.c.id == process_id))


def engine_processes(conn: Connection, role: str) -> list[dict[str, Any]]:
    rows = conn.execute(select(processes).where(processes.c.role == role)).all()
    return [d for d in map(_row, rows) if d is not None]
