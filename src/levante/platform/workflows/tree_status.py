"""Statuses across a tree of workflow executions, as StackStorm's mistral-v2 runner kept
them: a workflow shows ``canceling`` (``pausing``) until the executions it started on the
platform are no longer active, then ``canceled`` (``paused``); a pause cascades down to
the workflow-action children (platform executions whose runner is a workflow), and a
child that pauses pauses its parent; a resume cascades down to paused children and up to
a paused parent.

Called from :func:`levante.platform.workflows.reports.on_status`, in the transaction that
changes an execution's status; each change it makes goes through ``on_status`` again
(passed in as ``on_change``: this module imports no caller), so
the tree settles level by level (loops: an execution changes only from the statuses
named, so nothing is done twice).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection

from levante.contract.states import DONE
from levante.contract.states import PLATFORM_ACTIVE as ACTIVE
from levante.contract.wire import WORKFLOW_RUNNERS
from levante.contract.wire import runner_of as _runner_type

# (ACTIVE: children that keep a canceling (pausing) parent from being canceled (paused).
# WORKFLOW_RUNNERS: a runner other than the engine's (action-chain) carries out
# pausing/resuming of its own executions itself.)
from levante.platform.workflows import store

# What the engine said of the workflow (result.extra.state) -> the status it settles in.
SETTLED = {"canceling": ("CANCELLED", "canceled"), "pausing": ("PAUSED", "paused")}


class OnChange(Protocol):
    """What a change of status calls for (``reports.on_status``)."""

    def __call__(self, conn: Connection, execution_id: str, status: str, result: Any = None,
                 *, context: Any = None, action: Any = None) -> int: ...


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def active_children(conn: Connection, parent_id: str) -> int:
    """How many executions started by ``parent_id`` are still active."""
    return store.count_children_in(conn, parent_id, ACTIVE)


def _move(conn: Connection, on_change: OnChange, execution_id: str, old: str, new: str,
          values: dict[str, Any] | None = None) -> bool:
    """Compare-and-set ``old`` -> ``new`` with a log entry; then on_status of the change."""
    row = store.execution_if_in(conn, execution_id, old)
    if row is None:
        return False
    stamp = datetime.now(UTC)
    fields: dict[str, Any] = {"status": new, **(values or {}),
                              "log": [*(row.log or []), {"timestamp": _iso(stamp),
                                                         "status": new}]}
    if new in DONE:
        fields.update(end_timestamp=stamp, lease_until=None)
    changed = store.update_execution(conn, execution_id, old, fields)
    if changed:
        on_change(conn, execution_id, new, row.result, context=row.context,
                  action=row.action)
    return bool(changed)


def settle(conn: Connection, execution_id: str, on_change: OnChange) -> None:
    """A ``canceling``/``pausing`` workflow that the engine already canceled/paused and
    that has no active child any more becomes ``canceled``/``paused``."""
    row = store.status_and_result(conn, execution_id)
    if row is None or row.status not in SETTLED:
        return
    engine_state, final = SETTLED[row.status]
    extra = (row.result or {}).get("extra") if isinstance(row.result, Mapping) else None
    if not isinstance(extra, Mapping) or extra.get("state") != engine_state:
        return
    if active_children(conn, execution_id):
        return
    _move(conn, on_change, execution_id, row.status, final)


def _parent_of(conn: Connection, execution_id: str, context: Any) -> Any:
    known = context.get("parent") if isinstance(context, Mapping) else None
    if isinstance(known, Mapping) and isinstance(known.get("execution_id"), str):
        parent = known["execution_id"]  # as create_execution put it: no read needed
    else:
        parent = store.parent_id_of(conn, execution_id)
    if not parent:
        return None
    return store.status_and_action(conn, parent)


TREE_STATUSES = DONE | {"paused", "pausing", "resuming"}


def concerns_tree(status: str, context: Any) -> bool:
    """Whether a change to ``status`` may change another execution of the tree (cheap)."""
    if status not in TREE_STATUSES:
        return False
    if status in ("pausing", "resuming") or context is None:
        return True
    return isinstance(context, Mapping) and bool(context.get("parent"))


def after_change(conn: Connection, execution_id: str, status: str, action: Any,
                 context: Any, on_change: OnChange) -> None:
    """What a change of ``execution_id`` to ``status`` calls for in its tree."""
    if action is None and status in ("pausing", "paused", "resuming"):
        action = store.action_of(conn, execution_id)
    is_workflow = _runner_type(action) in WORKFLOW_RUNNERS
    if status == "pausing" and is_workflow:
        for child in store.children_in(conn, execution_id, frozenset({"running"})):
            if _runner_type(child.action) in WORKFLOW_RUNNERS:
                _move(conn, on_change, child.id, "running", "pausing")
    if status == "resuming" and is_workflow:
        for child in store.children_in(conn, execution_id, frozenset({"paused", "pausing"})):
            if _runner_type(child.action) in WORKFLOW_RUNNERS:
                _move(conn, on_change, child.id, child.status, "resuming")
    if status not in DONE and status not in ("paused", "pausing", "resuming"):
        return
    parent = _parent_of(conn, execution_id, context)
    if parent is None or _runner_type(parent.action) not in WORKFLOW_RUNNERS:
        return
    if status in ("pausing", "paused") and is_workflow and parent.status == "running":
        # a child that pauses pauses its parent
        _move(conn, on_change, parent.id, "running", "pausing")
    elif status == "resuming" and parent.status in ("paused", "pausing"):
        _move(conn, on_change, parent.id, parent.status, "resuming")
    elif status in DONE or status == "paused":
        settle(conn, parent.id, on_change)
