"""Every SQL statement of the notifier: fan-out of outbox events, claims, results, traces.

An outbox event (`engine_events`, written by the runtime in the transaction of the state
change) is fanned out once into one row of the contract's `outbox` (route `events`) per
subscriber; its `delivered_at` then records when that happened. A delivery's line is its
execution tree and subscriber URL: only heads of lines are claimed (by the contract's
store, `levante.contract.store`), so events reach each subscriber in order. On
PostgreSQL, fan-out is serialised by an advisory lock (fan-out order is event order).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    insert,
    or_,
    select,
    text,
    update,
)

from levante.contract import store as outbox_store
from levante.contract import wire
from levante.contract.delivery import EVENTS
from levante.contract.events import LINGERING_WORKFLOW_EVENTS, TASK_PREFIX, carries_tasks, lingers
from levante.contract.store import Outcome as Outcome
from levante.contract.tables import EVENTS as ROUTE
from levante.contract.tables import outbox as d
from levante.db import connect
from levante.db.times import aware as aware
from levante.db.times import now as now
from levante.engine.models import engine_events as ev
from levante.engine.models import task_executions as te
from levante.engine.models import workflow_executions as we

PENDING = "pending"
DELIVERED = EVENTS.delivered
FAILED = EVENTS.given_up
FANOUT_LOCK_KEY = 0x4C45564E  # pg advisory lock: one fan-out at a time
SUBSCRIBER_KINDS = (wire.SUBSCRIBER, wire.WEBHOOK_SUBSCRIBER)

Row = dict[str, Any]


def _is_pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction of the notifier that will write.

    On SQLite: BEGIN IMMEDIATE, queued behind the other writers of this process on the
    runtime's lock (racing them would make SQLite's busy handler sleep whole milliseconds).
    On PostgreSQL the commit does not wait for the WAL flush (`synchronous_commit = off`,
    milliseconds per commit): what the notifier writes (fan-out, leases, outcomes) is
    redone from the durable outbox event if a crash of the server loses it, which at worst
    sends an event again; at least once holds, and the receiver is idempotent."""
    with connect.writing(engine) as conn:
        if _is_pg(conn):
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        yield conn


# --- subscribers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscriber:
    kind: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    event_types: frozenset[str] | None = None

    def wants(self, event: str) -> bool:
        return self.event_types is None or event in self.event_types


def levante_env(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The platform's part of an execution's `params.env` (`env.levante`)."""
    env = (params or {}).get("env")
    if not isinstance(env, Mapping):
        return {}
    part = env.get(wire.ENV_KEY)
    return dict(part) if isinstance(part, Mapping) else {}


def subscribers_of(
    params: Mapping[str, Any] | None, global_webhooks: Sequence[str]
) -> list[Subscriber]:
    """Subscribers from `params.notify` (Mistral's shape, plus `levante`) and the config."""
    found: list[Subscriber] = []
    notify = (params or {}).get("notify")
    env = levante_env(params)
    for entry in notify if isinstance(notify, list) else []:
        if not isinstance(entry, Mapping):
            continue
        kind = entry.get("type")
        headers = entry.get("headers") if isinstance(entry.get("headers"), Mapping) else {}
        types = entry.get("event_types")
        wanted = frozenset(str(t) for t in types) if isinstance(types, list) and types else None
        headers = {str(k): str(v) for k, v in (headers or {}).items()}
        if kind == wire.WEBHOOK_SUBSCRIBER and isinstance(entry.get("url"), str) and entry["url"]:
            found.append(Subscriber(wire.WEBHOOK_SUBSCRIBER, entry["url"], headers, wanted))
        elif kind == wire.SUBSCRIBER:
            url = entry.get("url") or env.get("callback_url")
            if not isinstance(url, str) or not url:
                continue
            credential = env.get("credential")
            if isinstance(credential, str) and credential:
                headers.setdefault(wire.CREDENTIAL_HEADER, credential)
            found.append(Subscriber(wire.SUBSCRIBER, url, headers, wanted))
    for url in global_webhooks:
        found.append(Subscriber(wire.WEBHOOK_SUBSCRIBER, url))
    return found


# --- fan-out and claims -------------------------------------------------------------------


# Statements of the hot path, built once: building and keying a statement costs more than
# SQLite takes to run it.
_UNSENT = (
    select(ev.c.id, ev.c.execution_id, ev.c.root_execution_id, ev.c.task_execution_id,
           ev.c.event)
    .where(ev.c.delivered_at.is_(None))
    .order_by(ev.c.id)
    .limit(bindparam("b_limit"))
)
_UNSENT_FULL = (
    select(ev).where(ev.c.delivered_at.is_(None)).order_by(ev.c.id).limit(bindparam("b_limit"))
)
_PARAMS = select(we.c.id, we.c.params).where(we.c.id.in_(bindparam("b_ids", expanding=True)))
_INSERT = insert(d)
_FANNED_OUT = (
    update(ev).where(ev.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(delivered_at=bindparam("b_stamp"))
)
_UNLINGER = (  # task events that wait for company: due now (never a retry's wait)
    update(d)
    .where(d.c.route == ROUTE, d.c.line == bindparam("b_line"),
           d.c.state == PENDING, d.c.attempts == 0, d.c.first_attempt_at.is_(None),
           d.c.next_attempt_at > bindparam("b_now"))
    .values(next_attempt_at=bindparam("b_now"))
)
_EVENTS = select(ev).where(ev.c.id.in_(bindparam("b_ids", expanding=True)))
_WORKFLOWS = (
    select(we.c.id, we.c.name, we.c.workflow_name, we.c.workflow_namespace, we.c.workflow_id,
           we.c.root_execution_id, we.c.task_execution_id, we.c.state, we.c.state_info,
           we.c.project_id, we.c.params, we.c.output, we.c.created_at, we.c.updated_at)
    .where(we.c.id.in_(bindparam("b_ids", expanding=True)))
)
_INPUTS = select(we.c.id, we.c.input).where(we.c.id.in_(bindparam("b_ids", expanding=True)))


def _secret_input(params: Any) -> bool:
    """Whether a workflow has inputs the platform declared secret."""
    env = params.get("env") if isinstance(params, Mapping) else None
    levante = env.get(wire.ENV_KEY) if isinstance(env, Mapping) else None
    return isinstance(levante, Mapping) and bool(levante.get("secret_input"))


_TASKS = (
    select(te.c.id, te.c.name, te.c.workflow_execution_id, te.c.workflow_name,
           te.c.workflow_namespace, te.c.workflow_id, te.c.root_execution_id, te.c.type,
           te.c.state, te.c.state_info, te.c.published, te.c.result, te.c.project_id,
           te.c.created_at, te.c.updated_at, te.c.started_at, te.c.finished_at)
    .where(or_(te.c.id.in_(bindparam("b_ids", expanding=True)),
               te.c.workflow_execution_id.in_(bindparam("b_wf_ids", expanding=True))))
    .order_by(te.c.created_at, te.c.id)
)
def fanout(
    conn: Connection, global_webhooks: Sequence[str], limit: int = 500,
    seen: dict[str, dict[Any, Row]] | None = None, linger: float = 0.0,
) -> int:
    """Turn undelivered outbox events into deliveries, in event order; returns how many
    events were handled (0 when another process holds the fan-out). With `seen`, the
    events and workflow executions read are kept there for `event_material` (the bodies of
    fresh events are then built without reading them again), and `seen["busy"]` tells that
    another transaction held the fan-out (it may have looked before the newest events were
    committed: look again soon)."""
    if _is_pg(conn) and not conn.execute(
        text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": FANOUT_LOCK_KEY}
    ).scalar():
        if seen is not None:
            seen["busy"] = {}
        return 0
    unsent = _UNSENT if seen is None else _UNSENT_FULL
    events = [dict(r._mapping) for r in conn.execute(unsent, {"b_limit": limit})]
    if not events:
        return 0
    ids = {e["execution_id"] for e in events} | {e["root_execution_id"] for e in events}
    if seen is None:
        params = {r.id: r.params for r in conn.execute(_PARAMS, {"b_ids": list(ids)})}
    else:
        workflows = {r.id: dict(r._mapping) for r in conn.execute(_WORKFLOWS,
                                                                   {"b_ids": list(ids)})}
        params = {key: row["params"] for key, row in workflows.items()}
        seen["events"] = {e["id"]: e for e in events}
        seen["workflows"] = workflows
    stamp = now()
    later = stamp + timedelta(seconds=linger)
    rows: list[Row] = []
    flush: set[tuple[str, str]] = set()  # levante lines that a workflow event makes due
    for event in events:
        own = params.get(event["execution_id"]) or {}
        # A sub-workflow with no subscription of its own reports to its root's subscribers.
        source = own if own.get("notify") else params.get(event["root_execution_id"]) or {}
        for sub in subscribers_of(source, global_webhooks):
            if not sub.wants(event["event"]):
                continue
            due = stamp
            if sub.kind == wire.SUBSCRIBER and linger > 0:
                if lingers(event["event"]):
                    due = later  # sent with what follows it (batched), or after `linger`
                else:
                    flush.add((event["root_execution_id"], sub.url))
            rows.append({
                "event_id": event["id"], "event": event["event"],
                "execution_id": event["execution_id"],
                "root_execution_id": event["root_execution_id"],
                "task_execution_id": event["task_execution_id"],
                "route": ROUTE, "kind": sub.kind, "line": line_of(event["root_execution_id"],
                                                                  sub.url),
                "url": sub.url, "headers": dict(sub.headers),
                "state": PENDING, "attempts": 0, "created_at": stamp,
                "next_attempt_at": due,
            })
    if rows:
        conn.execute(_INSERT, rows)
    for root, url in flush:
        conn.execute(_UNLINGER, {"b_line": line_of(root, url), "b_now": stamp})
    conn.execute(_FANNED_OUT, {"b_ids": [e["id"] for e in events], "b_stamp": stamp})
    return len(events)


def line_of(root_execution_id: str, url: str) -> str:
    """The line of an event's delivery: its execution tree and the subscriber's URL."""
    return f"{root_execution_id} {url}"


def claim(conn: Connection, lease: float, limit: int, batch: int = 1) -> list[list[Row]]:
    """Take up to `limit` due deliveries that head their line; lease them for `lease` s.

    For `levante` subscribers, up to `batch` events that wait behind a head in its line
    come along (in order), to be sent in one request; returns one list per line."""
    return outbox_store.claim(conn, ROUTE, lease, limit, batch, batches=EVENTS.batches)


def event_material(
    conn: Connection, deliveries: Sequence[Row], seen: Mapping[str, Mapping[Any, Row]] | None = None
) -> dict[str, Any]:
    """What the bodies of `deliveries` are made of: events, executions, tasks (those of
    `seen`, read by `fanout` in this transaction, are not read again)."""
    known_events = (seen or {}).get("events") or {}
    known_workflows = (seen or {}).get("workflows") or {}
    events = {i: dict(known_events[i]) for i in {r["event_id"] for r in deliveries}
              if i in known_events}
    event_ids = list({r["event_id"] for r in deliveries} - events.keys())
    if event_ids:
        events.update((r.id, dict(r._mapping))
                      for r in conn.execute(_EVENTS, {"b_ids": event_ids}))
    wf_ids = {r["execution_id"] for r in deliveries} | {
        r["root_execution_id"] for r in deliveries
    }
    workflows = {i: known_workflows[i] for i in wf_ids if i in known_workflows}
    missing = list(wf_ids - workflows.keys())
    if missing:
        workflows.update((r.id, dict(r._mapping))
                         for r in conn.execute(_WORKFLOWS, {"b_ids": missing}))
    # The inputs of workflows with secret inputs: their values are masked in the bodies.
    secretive = [i for i, w in workflows.items()
                 if "input" not in w and _secret_input(w.get("params"))]
    if secretive:
        for wf_id, wf_input in conn.execute(_INPUTS, {"b_ids": secretive}).tuples():
            workflows[wf_id] = {**workflows[wf_id], "input": wf_input}
    task_ids = {r["task_execution_id"] for r in deliveries if r["task_execution_id"]}
    # Workflow events other than the launch carry the workflow's tasks.
    listing = {
        r["execution_id"] for r in deliveries
        if carries_tasks(r["event"])
    }
    tasks: dict[str, Row] = {}
    by_workflow: dict[str, list[Row]] = {w: [] for w in listing}
    if task_ids or listing:
        for r in conn.execute(_TASKS, {"b_ids": list(task_ids), "b_wf_ids": list(listing)}):
            row = dict(r._mapping)
            tasks[row["id"]] = row
            if row["workflow_execution_id"] in by_workflow:
                by_workflow[row["workflow_execution_id"]].append(row)
    return {"events": events, "workflows": workflows, "tasks": tasks,
            "tasks_of": by_workflow}


def record(conn: Connection, outcomes: Sequence[Outcome]) -> None:
    """Store the outcomes of attempts: delivered, retry later, or given up."""
    outbox_store.record(conn, outcomes, DELIVERED)


def purge(conn: Connection, before: datetime) -> int:
    """Forget finished deliveries (delivered or given up) older than `before`."""
    return outbox_store.purge(conn, ROUTE, before)


def pending_due(conn: Connection) -> datetime | None:
    """When the earliest pending delivery is due (None: nothing pending)."""
    return outbox_store.pending_due(conn, ROUTE)


def has_work(engine: Engine, linger: float = 0.0) -> bool:
    """Read-only: is there an event to fan out or a delivery due? (before a write lock)

    With `linger`, events that may wait (see `lingers`) count only once that old: their
    fan-out is left to the wake-up scheduled by the process that wrote them, or to the
    next event that may not wait, so that they travel together."""
    with engine.connect() as conn:
        unsent = select(ev.c.id).where(ev.c.delivered_at.is_(None))
        if linger > 0:
            unsent = unsent.where(or_(
                and_(ev.c.event.not_in(LINGERING_WORKFLOW_EVENTS),
                     ~ev.c.event.startswith(TASK_PREFIX, autoescape=True)),
                ev.c.created_at <= now() - timedelta(seconds=linger),
            ))
        if conn.execute(unsent.limit(1)).first() is not None:
            return True
        return outbox_store.has_due(conn, ROUTE)


# --- traces -------------------------------------------------------------------------------


def trace_rows(conn: Connection, root_execution_id: str) -> tuple[list[Row], list[Row]]:
    """The outbox events and the deliveries of one execution tree, in order."""
    events = [
        dict(r._mapping)
        for r in conn.execute(
            select(ev.c.id, ev.c.execution_id, ev.c.task_execution_id, ev.c.event,
                   ev.c.created_at, ev.c.delivered_at)
            .where(ev.c.root_execution_id == root_execution_id)
            .order_by(ev.c.id)
        )
    ]
    deliveries = [
        dict(r._mapping)
        for r in conn.execute(
            select(d.c.id, d.c.event_id, d.c.kind.label("subscriber"), d.c.url, d.c.state,
                   d.c.attempts, d.c.created_at, d.c.first_attempt_at, d.c.last_attempt_at,
                   d.c.delivered_at, d.c.last_status, d.c.last_error, d.c.last_duration_ms)
            .where(d.c.route == ROUTE, d.c.root_execution_id == root_execution_id)
            .order_by(d.c.event_id, d.c.id)
        )
    ]
    return events, deliveries


def task_names(conn: Connection, task_ids: Sequence[str]) -> dict[str, str]:
    if not task_ids:
        return {}
    return {
        r.id: r.name
        for r in conn.execute(select(te.c.id, te.c.name).where(te.c.id.in_(list(task_ids))))
    }


def workflow_row(conn: Connection, workflow_execution_id: str) -> Row | None:
    row = conn.execute(
        select(we.c.id, we.c.workflow_name, we.c.state, we.c.state_info,
               we.c.root_execution_id, we.c.created_at, we.c.updated_at)
        .where(we.c.id == workflow_execution_id)
    ).first()
    return dict(row._mapping) if row else None
