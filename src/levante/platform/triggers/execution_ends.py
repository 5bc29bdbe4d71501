"""The trigger instances an execution's ending records, in the ending's own transaction.

Every execution that ends records one ``core.st2.generic.actiontrigger`` instance (as
StackStorm's notifier does for every completed execution, children of workflows included);
an execution with a ``notify`` block records one ``core.st2.generic.notifytrigger``
instance per route of each sub-section that applies (``on-complete`` always,
``on-success`` when it succeeded, ``on-failure`` when it failed, timed out or was
abandoned). The rows are small (``payload_from`` = the execution id, the status, and for
a notify instance its route and the sub-section's ``message``/``data`` templates): the full
payloads are built when the rules engine processes them
(:mod:`levante.platform.triggers.execution_payloads`).

Which ``notify`` block applies, as StackStorm 2.x had it:

- its action's, else the one it was requested with (``context.notify``: the ``notify``
  of ``POST /v1/executions``, or of the action-chain node that started it);
- a child of a Mistral workflow or an action-chain without one inherits its parent's,
  unless its task is named in the parent's ``skip_notify`` parameter (StackStorm's
  mistral-v2 and action-chain runners).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from levante.db.times import now
from levante.platform.triggers.builtin import ACTION_TRIGGER, NOTIFY_TRIGGER
from levante.platform.triggers.store import notify_sources, record_instance

__all__ = ["ACTION_TRIGGER", "NOTIFY_TRIGGER", "notify_blocks", "notify_entries",
           "record_ends"]
# The key of a notify instance's recorded payload that says which sub-section it is; the
# completed payload has no such key.
NOTIFY_KEY = "_notify"
SUCCEEDED = "succeeded"
FAILED_STATES = frozenset({"failed", "timeout", "abandoned"})
# How far up the parents a child looks for a notify block to inherit.
MAX_INHERIT = 8

def _block(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) and value else {}


def _task_name(context: Any) -> str | None:
    if not isinstance(context, Mapping):
        return None
    for key, field in (("chain", "name"), ("mistral", "task_name"), ("orquesta", "task_name")):
        found = context.get(key)
        if isinstance(found, Mapping) and isinstance(found.get(field), str):
            return str(found[field])
    return None


def _own(row: Mapping[str, Any]) -> dict[str, Any]:
    """The action's block, else the request's (StackStorm's create_request: an action's
    ``notify`` replaces the one its execution was requested with)."""
    action = row.get("action")
    if isinstance(action, Mapping) and _block(action.get("notify")):
        return _block(action.get("notify"))
    context = row.get("context")
    return _block(context.get("notify")) if isinstance(context, Mapping) else {}


def _skipped(parent: Mapping[str, Any], child_context: Any) -> bool:
    skip = (parent.get("parameters") or {}).get("skip_notify")
    name = _task_name(child_context)
    return isinstance(skip, list) and name is not None and name in skip


def notify_blocks(conn: Connection, execution_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The ``notify`` block that applies to each execution (only those with one)."""
    rows = notify_sources(conn, execution_ids)
    found: dict[str, dict[str, Any]] = {}
    # Executions whose block is still to be found: (id, the row asking its parent).
    waiting: list[tuple[str, dict[str, Any]]] = []
    for execution_id, row in rows.items():
        block = _own(row)
        if block:
            found[execution_id] = block
        elif row.get("parent"):
            waiting.append((execution_id, row))
    for _ in range(MAX_INHERIT):
        if not waiting:
            break
        parents = notify_sources(conn, {w[1]["parent"] for w in waiting})
        still: list[tuple[str, dict[str, Any]]] = []
        for execution_id, asking in waiting:
            parent = parents.get(asking["parent"])
            if parent is None or _skipped(parent, asking.get("context")):
                continue
            block = _own(parent)
            if block:
                found[execution_id] = block
            elif parent.get("parent"):
                still.append((execution_id, parent))
        waiting = still
    return found


def _routes(spec: Mapping[str, Any]) -> list[str]:
    routes = spec.get("routes") or spec.get("channels") or []
    return [str(r) for r in routes] if isinstance(routes, list) else []


def notify_entries(block: Mapping[str, Any], status: str) -> list[dict[str, Any]]:
    """One recorded payload part per (sub-section that applies, route)."""
    kinds = ["on-complete"]
    if status == SUCCEEDED:
        kinds.append("on-success")
    elif status in FAILED_STATES:
        kinds.append("on-failure")
    entries = []
    for kind in kinds:
        spec = block.get(kind)
        if not isinstance(spec, Mapping):
            continue
        for route in _routes(spec):
            entries.append({"route": route, "channel": route, NOTIFY_KEY: {
                "kind": kind, "message": spec.get("message"), "data": spec.get("data")}})
    return entries


def record_ends(conn: Connection, ended: Sequence[tuple[str, str]]) -> int:
    """Record the instances of executions that just ended, each ``(id, final status)``, on
    ``conn`` (the ending's transaction); how many instances."""
    if not ended:
        return 0
    stamp = now()
    rows = [(ACTION_TRIGGER, {"execution_id": eid, "status": status}, eid)
            for eid, status in ended]
    blocks = notify_blocks(conn, [eid for eid, _ in ended])
    for eid, status in ended:
        block = blocks.get(eid)
        if block:
            rows += [(NOTIFY_TRIGGER, {"execution_id": eid, "status": status, **entry}, eid)
                     for entry in notify_entries(block, status)]
    for trigger, payload, execution_id in rows:
        record_instance(conn, trigger, payload, occurrence_time=stamp,
                        payload_from=execution_id)
    return len(rows)
