"""The receiver: engine events -> the platform execution's status and result, idempotently.

Events come from Levante's notifier (signed, with `event` and a per-tree sequence
`event_id`) or from a real Mistral server's `webhook` publisher (its notification data:
a workflow execution, or a task execution with `workflow_execution_id`). An event whose
sequence is not newer than the last one applied, or that arrives after the execution has
ended, changes nothing and is acknowledged. The results tracker applies what it polls
through the same function, so both paths end in the same record.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from levante.contract import body as wire_body
from levante.contract.events import EVENT_STATES, is_task_event
from levante.contract.states import (
    DONE,
    MISTRAL_RUNNING_DELAYED,
    RUNNING,
    STATUS_OF,
    WIRE_STATES,
    WORKFLOW_TERMINAL,
)
from levante.contract.wire import WORKFLOW_RUNNERS, runner_of
from levante.platform.core import store as platform_store
from levante.platform.workflows import reports, tree_status
from levante.platform.workflows import store as ts

log = logging.getLogger("levante.platform.receiver")


class BadEvent(ValueError):
    """A body that is not an event; the message says which field is wrong."""


@dataclass
class Update:
    """What one event (or one poll of the tracker) says about a workflow execution."""

    workflow_execution_id: str
    kind: str  # "workflow" or "task"
    state: str
    state_info: str | None = None
    event: str | None = None
    seq: int | None = None
    platform_execution_id: str | None = None
    root_execution_id: str | None = None
    has_output: bool = False
    output: Any = None
    tasks: list[dict[str, Any]] | None = None
    task: dict[str, Any] | None = None


@dataclass
class Applied:
    """The answer to an event: HTTP status, a message, and what happened."""

    status: int
    message: str
    execution_id: str | None = None
    changed: bool = False
    ended: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _text(body: Mapping[str, Any], name: str, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise BadEvent(f"field {name!r} is missing: a string is expected")
        return None
    if not isinstance(value, str):
        raise BadEvent(f"field {name!r} must be a string, not {type(value).__name__}")
    return value


def task_entry(task: Mapping[str, Any]) -> dict[str, Any]:
    """A task as the platform keeps it in `result.tasks` (StackStorm's mistral shape)."""
    return {name: task.get(name) for name in wire_body.TASK_FIELDS}


def parse_event(body: Any) -> Update:
    """An event body (Levante's or Mistral's) as an Update, or BadEvent."""
    if not isinstance(body, Mapping):
        raise BadEvent("the body must be a JSON object")
    event = _text(body, "event")
    if event is not None and event not in EVENT_STATES:
        raise BadEvent(f"field 'event': {event!r} is not a known event")
    seq = body.get("event_id")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
        raise BadEvent("field 'event_id' must be an integer")
    is_task = is_task_event(event) if event else "workflow_execution_id" in body
    state = _text(body, "state") or (EVENT_STATES.get(event) if event else None)
    if state is None:
        raise BadEvent("field 'state' is missing: a Mistral state is expected")
    if state not in WIRE_STATES:
        raise BadEvent(f"field 'state': {state!r} is not a Mistral state")
    update = Update(
        workflow_execution_id="",
        kind="task" if is_task else "workflow",
        state=RUNNING if state == MISTRAL_RUNNING_DELAYED else state,
        state_info=_text(body, "state_info"),
        event=event,
        seq=seq,
        platform_execution_id=_text(body, "platform_execution_id"),
        root_execution_id=_text(body, "root_execution_id"),
    )
    if is_task:
        update.workflow_execution_id = _text(body, "workflow_execution_id", True) or ""
        _text(body, "id", True)
        update.task = task_entry({**body, "state": update.state})
    else:
        update.workflow_execution_id = _text(body, "id", True) or ""
        if "output" in body:
            update.has_output = True
            update.output = body["output"]
        tasks = body.get("tasks")
        if tasks is not None:
            if not isinstance(tasks, list) or not all(isinstance(t, Mapping) for t in tasks):
                raise BadEvent("field 'tasks' must be a list of objects")
            update.tasks = [task_entry(t) for t in tasks]
    return update


def is_workflow(row: Mapping[str, Any]) -> bool:
    """Whether a platform execution (row with its action snapshot) runs a workflow."""
    return runner_of(row.get("action")) in WORKFLOW_RUNNERS


def engine_id(row: Mapping[str, Any]) -> str | None:
    """The engine's workflow execution id kept in `context.mistral.execution_id`."""
    mistral = (row.get("context") or {}).get("mistral") or {}
    value = mistral.get("execution_id") if isinstance(mistral, Mapping) else None
    return value if isinstance(value, str) and value else None


def resolve(conn: Connection, update: Update) -> tuple[str | None, bool, dict[str, Any] | None]:
    """The platform execution an update is about: (id, ignore, link). (None, False, None)
    is unknown; (None, True, None) is an event of a sub-workflow of a known tree."""
    wf_id = update.workflow_execution_id
    link = ts.link_by_workflow(conn, wf_id)
    if link is not None:
        return link["execution_id"], False, link
    if update.platform_execution_id:
        row = ts.execution(conn, update.platform_execution_id)
        if row is None:
            return None, False, None
        known = engine_id(row) or update.root_execution_id or wf_id
        if known != wf_id:
            return None, True, None
        return row["id"], False, _ensure_link(conn, row["id"], wf_id)
    for row in ts.unfinished_executions(conn):
        if engine_id(row) == wf_id and is_workflow(row):
            return row["id"], False, _ensure_link(conn, row["id"], wf_id)
    root = update.root_execution_id
    if root and root != wf_id and ts.link_by_workflow(conn, root) is not None:
        return None, True, None
    return None, False, None


def _ensure_link(conn: Connection, execution_id: str, wf_id: str) -> dict[str, Any]:
    return ts.link_of(conn, execution_id) or ts.insert_link(conn, execution_id, wf_id)


def parse_events(body: Any) -> list[Update]:
    """One event, or a batch `{"events": [...]}` (in order) from Levante's notifier."""
    if wire_body.is_batch(body):
        events = body["events"]
        if not isinstance(events, list) or not events:
            raise BadEvent("field 'events' must be a non-empty list of events")
        updates = []
        for index, item in enumerate(events):
            try:
                updates.append(parse_event(item))
            except BadEvent as exc:
                raise BadEvent(f"events[{index}]: {exc}") from None
        return updates
    return [parse_event(body)]


def apply_update(db: Engine, update: Update, execution_id: str | None = None) -> Applied:
    """Apply one update in one transaction; idempotent."""
    with ts.writing(db) as conn:
        return _apply_group(conn, [update], execution_id)


def apply_updates(db: Engine, updates: list[Update]) -> Applied:
    """Apply updates in order in one transaction, reading and writing each execution once;
    stops at the first unknown execution (those before stay applied: a retry finds them
    already applied)."""
    applied = Applied(200, "Nothing to apply.")
    changed, ended = False, False
    extra: dict[str, Any] = {}
    with ts.writing(db) as conn:
        index = 0
        while index < len(updates):
            # Consecutive updates about the same workflow execution go together.
            end = index + 1
            while (end < len(updates) and updates[end].workflow_execution_id
                   == updates[index].workflow_execution_id):
                end += 1
            applied = _apply_group(conn, updates[index:end])
            if applied.status == 404:
                return applied
            changed = changed or applied.changed
            ended = ended or applied.ended
            extra.update(applied.extra)
            index = end
    if len(updates) > 1:
        status = 202 if extra.get("track") else 200
        applied = Applied(status, f"{len(updates)} events applied.", applied.execution_id,
                          changed, ended, extra)
    return applied


def _apply_group(conn: Connection, updates: list[Update],
                 execution_id: str | None = None) -> Applied:
    first = updates[0]
    if execution_id is None:
        execution_id, ignore, link = resolve(conn, first)
        if execution_id is None:
            if ignore:
                return Applied(200, "Event of a sub-workflow: nothing to change.")
            return Applied(404, f'No execution is linked to the workflow execution '
                                f'"{first.workflow_execution_id}".')
    else:
        link = _ensure_link(conn, execution_id, first.workflow_execution_id)
    row = ts.execution_for_update(conn, execution_id)
    if row is None:
        ts.delete_entry(conn, execution_id)
        return Applied(404, f'Execution "{execution_id}" cannot be found.')
    if conn.dialect.name != "sqlite":
        # Read under the execution's row lock: a concurrent batch may have moved it on.
        link = ts.link_of(conn, execution_id)
    state = _Folding(row, link, first.workflow_execution_id)
    for update in updates:
        state.fold(update)
    return state.write(conn, execution_id)


class _Folding:
    """An execution's status and result as events are folded in, written once."""

    def __init__(self, row: Mapping[str, Any], link: Mapping[str, Any] | None,
                 workflow_execution_id: str) -> None:
        self.row = row
        self.old_status: str = row["status"]
        self.status: str = row["status"]
        self.last_seq: int | None = link.get("last_seq") if link else None
        self.linked: str = link["workflow_execution_id"] if link else workflow_execution_id
        self.result: dict[str, Any] = (dict(row["result"]) if isinstance(row["result"], Mapping)
                                       else {})
        self.result_changed = False
        self.applied = 0
        self.seen = False
        self.track = False
        self.messages: list[str] = []

    def fold(self, update: Update) -> None:
        if update.seq is not None and self.last_seq is not None and update.seq <= self.last_seq:
            self.messages.append(f"Event {update.seq} was already applied (last "
                                 f"{self.last_seq}): nothing changed.")
            return
        self.seen = True
        if update.seq is not None:
            self.last_seq = update.seq
        if self.status in DONE:
            self.messages.append(f'Execution is already {self.status}: nothing changed.')
            return
        if update.kind == "task":
            self._fold_task(update)
            return
        if update.state in WORKFLOW_TERMINAL and not update.has_output:
            # Mistral's own notification has no output: the tracker fetches the rest.
            self.track = True
            self.messages.append("The workflow ended; its result will be fetched from the "
                                 "engine.")
            return
        result = self.result
        if update.has_output:
            output = update.output
            kept_tasks = result.get("tasks")
            result = dict(output) if isinstance(output, Mapping) else (
                {} if output is None else {"output": output})
            if kept_tasks is not None:
                result["tasks"] = kept_tasks
        if update.tasks is not None:
            result["tasks"] = update.tasks
        result.setdefault("tasks", [])
        result["extra"] = {"state": update.state, "state_info": update.state_info}
        self.result = result
        self.result_changed = True
        self.applied += 1
        wanted = STATUS_OF.get(update.state)
        if wanted is not None:
            self.status = wanted

    def _fold_task(self, update: Update) -> None:
        entry = update.task
        if not entry or entry.get("workflow_execution_id") != self.linked:
            return
        tasks = [dict(t) for t in self.result.get("tasks") or [] if isinstance(t, Mapping)]
        index = {t.get("id"): i for i, t in enumerate(tasks)}
        if entry["id"] in index:
            at = index[entry["id"]]
            tasks[at] = {**tasks[at], **{k: v for k, v in entry.items() if v is not None}}
        else:
            tasks.append(dict(entry))
        self.result["tasks"] = tasks
        self.result_changed = True
        self.applied += 1

    def write(self, conn: Connection, execution_id: str) -> Applied:
        row = self.row
        if self.old_status in DONE:
            ts.delete_entry(conn, execution_id)
            return Applied(200, self.messages[-1] if self.messages else "Nothing changed.",
                           execution_id, ended=True)
        if not self.seen:
            return Applied(200, self.messages[-1], execution_id)
        values: dict[str, Any] = {}
        if self.result_changed:
            values["result"] = self.result
        context = row["context"] if isinstance(row["context"], Mapping) else {}
        if engine_id(row) is None:
            mistral = dict(context.get("mistral") or {})
            mistral["execution_id"] = self.linked
            values["context"] = {**context, "mistral": mistral}
        if (self.status in ("canceled", "paused") and self.status != self.old_status
                and tree_status.active_children(conn, execution_id)):
            # As StackStorm: canceling (pausing) until what it started is no longer active.
            self.status = "canceling" if self.status == "canceled" else "pausing"
        ended = False
        if self.status != self.old_status:
            stamp = platform_store.now()
            values["status"] = self.status
            values["log"] = [*(row["log"] or []),
                             {"timestamp": platform_store.iso(stamp), "status": self.status}]
            if self.status in DONE:
                ended = True
                values["end_timestamp"] = stamp
                values["lease_until"] = None
        changed = bool(values) and ts.update_execution(conn, execution_id, self.old_status,
                                                       values)
        if changed and "status" in values:  # a nested workflow's end, a cancel: same commit
            reports.on_status(conn, execution_id, self.status,
                                       values.get("result", self.result),
                                       context=values.get("context", row["context"]),
                                       action=row["action"])
        ts.touch_link(conn, execution_id, self.last_seq)
        if ended:
            ts.delete_entry(conn, execution_id)
        extra: dict[str, Any] = {}
        if self.track and not ended:
            ts.add_entry(conn, execution_id, self.linked, "event")
            extra["track"] = True
            return Applied(202, self.messages[-1], execution_id, changed, False, extra)
        if self.status != self.old_status:
            message = f'Execution "{execution_id}" is now {self.status}.'
        else:
            message = f'Execution "{execution_id}" updated.'
        return Applied(200, message, execution_id, changed, ended, extra)


def apply_event(db: Engine, body: Any) -> Applied:
    """Parse and apply an event body or a batch (BadEvent -> 400 by the caller)."""
    return apply_updates(db, parse_events(body))
