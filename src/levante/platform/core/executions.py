"""Executions: create (parameters checked first), read, list, cancel, re-run, change status.

Plain functions over the database engine; the HTTP API and the runner loop both use them.
Records are shaped like StackStorm's action executions, with secret parameters masked.
Runners in this process are woken at once when work arrives (no poll delay); one with a
free worker takes a new execution straight from the API, stored already claimed by it.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from levante.contract.states import (
    DONE,
    PLATFORM_ACTIVE,
    PLATFORM_STATUSES,
    PLATFORM_WAITING,
)
from levante.contract.wire import ENGINE_RUNNERS, WORKFLOW_RUNNERS
from levante.db.connect import after_commit
from levante.db.local import local_of
from levante.platform.configs import store as config_store
from levante.platform.configs.schema import validated
from levante.platform.core import store
from levante.platform.core.pack_types import ActionMeta
from levante.platform.core.parameters import MASK, ParameterError, mask_secrets, merge_schema
from levante.platform.core.parameters import validate_parameters as _validate
from levante.platform.datastore import render as kv_render
from levante.platform.runners import (
    UnknownRunner,
    get_runner,
    sudo_refusal,
    timeout_of,
)

# The statuses and runner names are the handshake contract's (levante.contract).
STATUSES = PLATFORM_STATUSES
WAITING = PLATFORM_WAITING  # not yet taken by a runner: a cancel ends them at once
ACTIVE = PLATFORM_ACTIVE  # taken by a runner: a cancel asks it to stop the process
DEFAULT_TIMEOUT = 600


class NotFound(LookupError):
    """The named resource does not exist; the message says which (StackStorm's words)."""


class Refused(ValueError):
    """A request that cannot be carried out in the resource's current state."""

    status = 400


class EngineOwned(Refused):
    """A status that only the engine may give a workflow execution it runs (409)."""

    status = 409


# --- wake-ups of runner loops in this process -----------------------------------------------
# Kept on the engine's Local (levante.db.local): the runner loops of this process on one
# database hear of that database's new executions; another engine's loops do not.

BELL = "executions"


def add_listener(db: Engine, callback: Callable[[str, str], None]) -> None:
    """Call ``callback(event, execution_id)`` on "requested" and "canceling" events of
    ``db`` in this process."""
    local_of(db).bell(BELL).add(callback)


def remove_listener(db: Engine, callback: Callable[[str, str], None]) -> None:
    local_of(db).bell(BELL).remove(callback)


def has_listener(db: Engine, callback: Callable[[str, str], None]) -> bool:
    return local_of(db).bell(BELL).has(callback)


def _notify(db: Engine, event: str, execution_id: str) -> None:
    local_of(db).bell(BELL).ring(event, execution_id)


class Taker(Protocol):
    """A runner loop in this process that takes new executions straight from the API."""

    def reserve(self, db: Engine) -> dict[str, Any] | None:
        """Hold a free worker (any thread) for an execution of database ``db``: the claim
        fields to store, or None (busy, stopping, or another database)."""

    def alone_on(self, db: Engine) -> bool:
        """True when this is the only runner of database ``db`` (nobody else to wake)."""

    def release(self) -> None:
        """Give back a reservation that was not used."""

    def accept(self, row: dict[str, Any]) -> None:
        """Run this execution, stored already claimed with the reserved fields."""


class Takers:
    """The takers of one database in this process (a part of its engine's Local). Read on
    every new execution, so a tuple replaced whole: readers take no lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.members: tuple[Taker, ...] = ()

    def add(self, taker: Taker) -> None:
        with self._lock:
            self.members = (*self.members, taker)

    def remove(self, taker: Taker) -> None:
        with self._lock:
            self.members = tuple(t for t in self.members if t is not taker)


def add_taker(db: Engine, taker: Taker) -> None:
    local_of(db).part(Takers).add(taker)


def remove_taker(db: Engine, taker: Taker) -> None:
    local_of(db).part(Takers).remove(taker)


def _alone_on(db: Engine) -> bool:
    """A runner of this process is the only one of ``db``: wake-ups stay in-process."""
    return any(taker.alone_on(db) for taker in local_of(db).part(Takers).members)


def _reserve(db: Engine) -> tuple[Taker, dict[str, Any]] | None:
    for taker in local_of(db).part(Takers).members:
        fields = taker.reserve(db)
        if fields is not None:
            return taker, fields
    return None


# --- actions ------------------------------------------------------------------------------


def action_meta(row: dict[str, Any]) -> ActionMeta:
    """An action row (or an execution's action snapshot) as the runners want it."""
    return ActionMeta(
        ref=row["ref"],
        pack=row["pack"],
        name=row["name"],
        description=row.get("description") or "",
        runner_type=row["runner_type"],
        entry_point=row.get("entry_point") or "",
        enabled=bool(row.get("enabled", True)),
        parameters=dict(row.get("parameters") or {}),
        tags=list(row.get("tags") or []),
        metadata_file=row.get("metadata_file") or "",
        notify=dict(row.get("notify") or {}),
    )


def shown_entry_point(row: dict[str, Any]) -> str:
    """The entry point as StackStorm shows it: relative to the folder of the action's
    metadata (the pack's ``actions/``); the stored one is absolute."""
    entry = row.get("entry_point") or ""
    meta = row.get("metadata_file") or ""
    if entry and meta and os.path.isabs(entry):
        base = os.path.dirname(meta)
        if entry.startswith(base + os.sep):
            return os.path.relpath(entry, base)
    return str(entry)


def action_view(row: dict[str, Any], shown: bool = False) -> dict[str, Any]:
    """StackStorm's JSON for an action; defaults of secret parameters are masked.
    ``shown``: for display (entry point relative to the pack's actions folder), not for
    the execution's stored copy (which the runner reads)."""
    params = {}
    for name, spec in (row.get("parameters") or {}).items():
        spec = dict(spec)
        if spec.get("secret") and spec.get("default") is not None:
            spec["default"] = MASK
        params[name] = spec
    return {
        "id": row["id"],
        "uid": f"action:{row['pack']}:{row['name']}",
        "ref": row["ref"],
        "pack": row["pack"],
        "name": row["name"],
        "description": row.get("description") or "",
        "enabled": bool(row.get("enabled", True)),
        "runner_type": row["runner_type"],
        "entry_point": shown_entry_point(row) if shown else row.get("entry_point") or "",
        "parameters": params,
        "tags": list(row.get("tags") or []),
        "notify": dict(row.get("notify") or {}),
        "output_schema": {},
        "metadata_file": row.get("metadata_file") or "",
    }


def runner_view(name: str) -> dict[str, Any]:
    runner = get_runner(name)
    body = runner.to_api()
    body["id"] = runner.name
    return body


ACTION_CACHE_SECONDS = 2.0


class ActionCache:
    """Actions of one database read lately (a part of its engine's Local): a new execution
    reads its action from here; ref or id -> (good until, row)."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[float, dict[str, Any]]] = {}


def forget_actions(db: Engine) -> None:
    """Drop the cached actions of ``db`` (after this process changed some)."""
    local_of(db).part(ActionCache).rows.clear()


def get_action(db: Engine, ref_or_id: str, cached: bool = False) -> dict[str, Any]:
    """An action row; ``cached`` accepts one read up to ACTION_CACHE_SECONDS ago."""
    rows = local_of(db).part(ActionCache).rows
    stamp = time.monotonic()
    if cached:
        hit = rows.get(ref_or_id)
        if hit is not None and hit[0] > stamp:
            return hit[1]
    row = store.get_action(db, ref_or_id)
    if row is None:
        raise NotFound(f'Action "{ref_or_id}" cannot be found.')
    if len(rows) > 1000:
        rows.clear()
    rows[ref_or_id] = (stamp + ACTION_CACHE_SECONDS, row)
    return row


def pack_config(db: Engine, pack: str) -> dict[str, Any]:
    """The pack's registered config (``config_context``, an action's ``self.config``):
    its values with the schema's defaults; empty when it has none or it was invalid."""
    row = config_store.get_pack_config(db, pack)
    if row is None:
        return {}
    if row["config_values"] is None:  # refused at registration: the defaults alone
        return validated(row["config_schema"], None)
    return dict(row["config_values"])


# --- executions ---------------------------------------------------------------------------


def validate(
    action_row: dict[str, Any], params: Any, allow_sudo: bool = True,
    action_context: dict[str, Any] | None = None,
    config: Callable[[], dict[str, Any]] | None = None,
    datastore: Callable[[], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The parameters the execution will run with, or ParameterError naming the bad one.

    Jinja in them is rendered with ``action_context`` and the pack's ``config`` (called
    only when a template uses ``config_context``)."""
    try:
        runner = get_runner(action_row["runner_type"])
    except UnknownRunner as exc:
        raise ParameterError("runner_type", str(exc)) from None
    values = _validate(action_meta(action_row), runner.runner_parameters, params or {},
                       action_context, config, datastore)
    timeout = values.get("timeout")
    if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout <= 0:
        raise ParameterError("timeout", f"Parameter 'timeout' must be a positive number of "
                                        f"seconds, not {timeout}.")
    refusal = sudo_refusal(runner.name, values, allow_sudo)
    if refusal:
        raise ParameterError("sudo", f"Action {action_row['ref']}: {refusal}")
    return values


DEFAULT_MAX_NESTING = 100


def _level(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1


def _nesting(parent: dict[str, Any], context: dict[str, Any], limit: int) -> int:
    """The nesting of a child of ``parent``: the parent's, plus the level (in its tree on
    the engine) of the workflow that asks for the child; ParameterError past ``limit``
    (``[engine] max_nesting_depth``), e.g. for a workflow action that starts itself."""
    parent_ctx = parent.get("context")
    mistral = context.get("mistral")
    level = _level(parent_ctx.get("nesting") if isinstance(parent_ctx, dict) else None)
    level += _level(mistral.get("nesting") if isinstance(mistral, dict) else None)
    if level > limit:
        raise ParameterError(
            "parent", f"The execution cannot start: it would be nested {level} levels deep "
                      f"under workflows, more than the limit of {limit} ([engine] "
                      f"max_nesting_depth). Does a workflow start itself without end?")
    return level


def create_execution(
    db: Engine,
    ref: str,
    params: Any,
    user: str,
    parent: str | None = None,
    context: dict[str, Any] | None = None,
    *,
    allow_sudo: bool = True,
    default_timeout: int = DEFAULT_TIMEOUT,
    execution_id: str | None = None,
    max_nesting: int = DEFAULT_MAX_NESTING,
) -> dict[str, Any]:
    """Record a requested execution of action ``ref`` and wake the runners.

    Raises NotFound for an unknown action and ParameterError (naming the parameter) for
    bad parameters: nothing is stored or run then. ``execution_id``: the id to store it
    under (a client's, see :func:`create_once`), else a new one.
    """
    row = prepare_execution(db, ref, params, user, parent, context, allow_sudo=allow_sudo,
                            default_timeout=default_timeout, execution_id=execution_id,
                            max_nesting=max_nesting)
    handoff = _reserve(db)
    if handoff is None:
        store.insert_execution(db, row, wake=not _alone_on(db))
        _notify(db, "requested", row["id"])
        return row
    # A runner of this process has a free worker: store the execution already claimed by
    # it (one statement instead of an insert, a wake-up and a claim), then hand it over.
    taker, fields = handoff
    row.update(fields, status="running")
    row["log"] = [*row["log"], {"timestamp": row["log"][0]["timestamp"], "status": "running"}]
    try:
        store.insert_execution(db, row, wake=False)
    except BaseException:
        taker.release()
        raise
    taker.accept(row)
    return row


def prepare_execution(
    db: Engine,
    ref: str,
    params: Any,
    user: str,
    parent: str | None = None,
    context: dict[str, Any] | None = None,
    *,
    allow_sudo: bool = True,
    default_timeout: int = DEFAULT_TIMEOUT,
    execution_id: str | None = None,
    max_nesting: int = DEFAULT_MAX_NESTING,
) -> dict[str, Any]:
    """The row of a requested execution, checked as :func:`create_execution` checks it
    (same errors), not stored: for a caller that stores it in a transaction of its own
    (:func:`insert_requested`), e.g. with the rule enforcement that asks for it."""
    action_row = get_action(db, ref, cached=True)
    if not action_row["enabled"]:
        raise Refused(f'Action "{action_row["ref"]}" is disabled.')
    ctx = dict(context or {})
    if parent is not None:
        parent_row = store.get_execution(db, parent)
        if parent_row is None:
            raise NotFound(f'Execution "{parent}" (parent) cannot be found.')
        ctx["nesting"] = _nesting(parent_row, ctx, max_nesting)
    else:
        ctx.pop("nesting", None)
    ctx.setdefault("user", user)
    ctx.setdefault("pack", action_row["pack"])
    if parent:
        ctx.setdefault("parent", {"execution_id": parent})
    values = validate(action_row, params, allow_sudo, ctx,
                      lambda: pack_config(db, action_row["pack"]),
                      lambda: kv_render.names(db, str(ctx.get("user") or user)))
    stamp = store.now()
    timeout = timeout_of(values, float(default_timeout)) or default_timeout
    row = {
        "id": execution_id or store.new_id(),
        "action_ref": action_row["ref"],
        "action": action_view(action_row) | {"parameters": action_row["parameters"]},
        "runner": runner_view(action_row["runner_type"]),
        "status": "requested",
        "parameters": values,
        "context": ctx,
        "result": None,
        "parent": parent,
        "user": user,
        "timeout": max(1, int(timeout)),
        "start_timestamp": stamp,
        "end_timestamp": None,
        "log": [{"timestamp": store.iso(stamp), "status": "requested"}],
        "claimed_by": None,
        "lease_until": None,
    }
    return row


def insert_requested(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Store rows of :func:`prepare_execution` on ``conn``, in the caller's transaction
    (opened by ``levante.db.connect.writing``); the runners are woken once it commits."""
    if not rows:
        return
    store.insert_executions_on(conn, rows)
    db = conn.engine
    ids = [row["id"] for row in rows]
    after_commit(conn, lambda: _announce(db, ids))


def _announce(db: Engine, execution_ids: list[str]) -> None:
    """Wake the runners for executions stored by :func:`insert_requested`: other
    processes' with one NOTIFY, this process's for each."""
    if not _alone_on(db):
        # stored: if the wake-up fails, the runners find them at their next poll
        with contextlib.suppress(Exception):
            # one id: a hint; several: none, so that woken runners claim the oldest
            store.notify(db, "requested", execution_ids[0] if len(execution_ids) == 1
                         else "")
    for execution_id in execution_ids:
        _notify(db, "requested", execution_id)


CLIENT_ID = re.compile(r"^[0-9a-f]{24}$")  # an execution id as the platform makes them


class Conflict(Refused):
    """A client-chosen execution id that another request used for something else."""


def _same_request(row: dict[str, Any], ref: str, parent: str | None) -> dict[str, Any]:
    if row["action_ref"] != ref and row["action"].get("ref") != ref:
        raise Conflict(f'Execution "{row["id"]}" exists already, for action '
                       f'{row["action_ref"]}, not {ref}.')
    if (row["parent"] or None) != (parent or None):
        raise Conflict(f'Execution "{row["id"]}" exists already, with another parent.')
    return row


def create_once(
    db: Engine, execution_id: str, ref: str, params: Any, user: str,
    parent: str | None = None, context: dict[str, Any] | None = None, *,
    allow_sudo: bool = True, default_timeout: int = DEFAULT_TIMEOUT,
    max_nesting: int = DEFAULT_MAX_NESTING,
) -> tuple[dict[str, Any], bool]:
    """The execution of id ``execution_id``, created as :func:`create_execution` does
    unless it exists: (row, True when created now). A repeat of a request (a client that
    retried after a lost answer) thus never runs the action twice. The id must look like
    the platform's own (``CLIENT_ID``); an existing one for another action or parent is a
    Conflict."""
    if not CLIENT_ID.match(execution_id):
        raise Refused("'id' must be 24 lower-case hexadecimal digits, as the platform's "
                      "execution ids are.")
    existing = store.get_execution(db, execution_id)
    if existing is not None:
        return _same_request(existing, ref, parent), False
    try:
        return create_execution(db, ref, params, user, parent, context,
                                allow_sudo=allow_sudo, default_timeout=default_timeout,
                                execution_id=execution_id, max_nesting=max_nesting), True
    except IntegrityError:
        existing = store.get_execution(db, execution_id)
        if existing is None:
            raise
        return _same_request(existing, ref, parent), False  # created meanwhile


def get_execution(db: Engine, execution_id: str) -> dict[str, Any]:
    row = store.get_execution(db, execution_id)
    if row is None:
        raise NotFound(f'Execution "{execution_id}" cannot be found.')
    return row


STATUS_FIELDS = frozenset({"id", "status", "start_timestamp", "end_timestamp",
                           "elapsed_seconds", "parent"})


def status_view(db: Engine, execution_id: str) -> dict[str, Any]:
    """The fields of `view` in STATUS_FIELDS, from a read of those columns alone: a
    client polling for the end (``include_attributes=status``) costs a small read."""
    row = store.get_execution_status(db, execution_id)
    if row is None:
        raise NotFound(f'Execution "{execution_id}" cannot be found.')
    end = store.iso(row["end_timestamp"])
    body: dict[str, Any] = {"id": row["id"], "status": row["status"],
                            "start_timestamp": store.iso(row["start_timestamp"])}
    if end is not None:
        body["end_timestamp"] = end
        body["elapsed_seconds"] = elapsed_seconds(row)
    if row["parent"]:
        body["parent"] = row["parent"]
    return body


def request_cancel(db: Engine, execution_id: str) -> tuple[dict[str, Any], str | None]:
    """Cancel: at once when not yet running, else ask the runner to kill the process.

    Returns the execution and, when nothing could be done, StackStorm's reason.
    """
    row = get_execution(db, execution_id)
    for _ in range(5):
        status = row["status"]
        if status == "canceled":
            return row, 'Action is already in "canceled" state.'
        if status in DONE:
            return row, f"Action cannot be canceled. State = {status}."
        if status == "canceling":
            return row, None
        if status in WAITING or (status == "running"
                                 and row.get("claimed_by") == store.TIMER_CLAIM):
            # Not started yet, or only waiting (core.pause): nothing to stop.
            changed = store.transition(
                db, execution_id, [status], "canceled",
                {"end_timestamp": store.now(), "lease_until": None,
                 "result": {"error": "canceled while it waited" if status == "running"
                            else "canceled before it ran"}},
                known=(status, row["log"]),
            )
        else:
            changed = store.transition(
                db, execution_id, [status], "canceling", known=(status, row["log"])
            )
            if changed:
                _notify(db, "canceling", execution_id)
                store.notify(db, "canceling", execution_id)
        row = get_execution(db, execution_id)
        if changed:
            return row, None
    return row, f"Action cannot be canceled. State = {row['status']}."


def set_status(
    db: Engine, execution_id: str, status: str, result: Any = None, *, has_result: bool = False
) -> dict[str, Any]:
    """Change an execution's status (and result) from outside, e.g. a workflow callback."""
    if status not in STATUSES:
        raise ParameterError("status", f"'{status}' is not a valid status "
                                       f"(one of {', '.join(STATUSES)})")
    row = get_execution(db, execution_id)
    runner = (row.get("runner") or {}).get("name")
    if status in ("pausing", "paused", "resuming") and runner not in WORKFLOW_RUNNERS:
        raise Refused(f'Execution "{execution_id}" runs a '
                      f'{runner} action: only workflow '
                      "executions can be paused or resumed.")
    if runner in ENGINE_RUNNERS and row["status"] not in DONE:
        # The engine runs it: a cancel or a pause is passed to the engine (the reports of
        # levante.platform.workflows.reports), an end is refused.
        if status == "paused":
            status = "pausing"
        if status == "pausing" and row["status"] in ("pausing", "paused"):
            return row  # asked already: the engine would not answer again
        if status == "resuming" and row["status"] in ("running", "resuming"):
            # Not paused itself (the engine would not answer): resume what it started.
            for child in store.child_executions(db, execution_id):
                if (child["status"] in ("paused", "pausing")
                        and (child.get("runner") or {}).get("name") in WORKFLOW_RUNNERS):
                    set_status(db, child["id"], "resuming")
            return get_execution(db, execution_id)
        if status in DONE and status != "canceled":
            raise EngineOwned(
                f'Execution "{execution_id}" is a workflow that the engine runs: only the '
                f'engine can end it, so it cannot be set "{status}". Cancel it instead '
                '(status "canceled"), which the engine carries out.')
    if runner == "action-chain" and status in ("pausing", "paused", "resuming"):
        chained = _pause_or_resume_chain(db, row, status)
        if chained is not None:
            return chained
        status = "pausing" if status == "paused" and row["status"] in ACTIVE else status
    if status == "canceled" and row["status"] not in DONE:
        request_cancel(db, execution_id)
        return get_execution(db, execution_id)
    if row["status"] in DONE:
        if row["status"] == status and not has_result:
            return row
        raise Refused(
            f'Execution "{execution_id}" is already {row["status"]}; its status cannot '
            "change any more."
        )
    values: dict[str, Any] = {}
    if has_result:
        values["result"] = result
    if status in DONE:
        values["end_timestamp"] = store.now()
        values["lease_until"] = None
    if store.transition(db, execution_id, [row["status"]], status, values,
                        known=(row["status"], row["log"])) is None:
        raise Refused(f'Execution "{execution_id}" changed meanwhile; try again.')
    if status == "canceling":
        _notify(db, "canceling", execution_id)
        store.notify(db, "canceling", execution_id)
    return get_execution(db, execution_id)


def _pause_or_resume_chain(db: Engine, row: dict[str, Any], status: str
                           ) -> dict[str, Any] | None:
    """A pause or a resume of an action-chain that is not simply a change of status (None
    otherwise). A chain pauses between nodes: running, it is ``pausing`` until its node
    ends (set_status does that); not yet taken, it is ``paused`` at once. Resumed, a
    ``paused`` chain is ``resuming``, then requested again (a runner takes it and goes on
    after the nodes its children show done); a ``pausing`` one just goes on running."""
    execution_id = row["id"]
    if status in ("pausing", "paused") and row["status"] == "requested":
        steps = [("requested", "paused")]
    elif status == "resuming" and row["status"] == "paused":
        steps = [("paused", "resuming"), ("resuming", "requested")]
    elif status == "resuming" and row["status"] == "pausing":
        steps = [("pausing", "resuming"), ("resuming", "running")]
    else:
        return None
    known: tuple[str, list[Any]] | None = (row["status"], row["log"])
    for before, after in steps:
        values = {"claimed_by": None, "lease_until": None} if after == "requested" else {}
        if store.transition(db, execution_id, [before], after, values, known=known) is None:
            raise Refused(f'Execution "{execution_id}" changed meanwhile; try again.')
        known = None
    if steps[-1][1] == "requested":
        _notify(db, "requested", execution_id)
        store.notify(db, "requested", execution_id)
    return get_execution(db, execution_id)


def re_run(
    db: Engine,
    execution_id: str,
    overrides: dict[str, Any] | None,
    user: str,
    *,
    allow_sudo: bool = True,
    default_timeout: int = DEFAULT_TIMEOUT,
    tasks: list[str] | None = None,
    reset: list[str] | None = None,
) -> dict[str, Any]:
    """A new execution of the same action with the same parameters, some maybe changed.

    ``tasks``: re-run those tasks inside the ended workflow execution of the original
    (StackStorm's ``re-run --tasks``), ``reset`` the ones whose with-items results are
    dropped; the workflow runner carries it out (levante.platform.workflows.rerun)."""
    if overrides is not None and not isinstance(overrides, dict):
        raise ParameterError("parameters", "parameters must be an object of name to value")
    old = get_execution(db, execution_id)
    action_row = get_action(db, old["action_ref"])
    schema = merge_schema(get_runner(action_row["runner_type"]).runner_parameters,
                          action_row["parameters"])
    params = {k: v for k, v in old["parameters"].items()
              if not schema.get(k, {}).get("immutable") and k in schema}
    params.update(overrides or {})
    context: dict[str, Any] = {"re-run": {"ref": execution_id}}
    if tasks:
        runner = (old.get("runner") or {}).get("name")
        if runner not in ENGINE_RUNNERS:
            raise ParameterError("tasks", f'Execution "{execution_id}" runs a {runner} '
                                          "action: only the tasks of a workflow execution "
                                          "can be re-run.")
        if old["status"] not in DONE:
            raise Refused(f'Execution "{execution_id}" is {old["status"]}: tasks are re-run '
                          "only in a workflow execution that has ended.")
        if not ((old.get("context") or {}).get("mistral") or {}).get("execution_id"):
            raise Refused(f'Execution "{execution_id}" has no workflow execution on the '
                          "engine whose tasks could be re-run.")
        context["re-run"].update(tasks=list(tasks), reset=list(reset or []))
    return create_execution(
        db, old["action_ref"], params, user, parent=old["parent"], context=context,
        allow_sudo=allow_sudo, default_timeout=default_timeout,
    )


# --- the record as StackStorm shows it ------------------------------------------------------


def elapsed_seconds(row: dict[str, Any]) -> float | None:
    start = store.aware(row["start_timestamp"])
    end = store.aware(row["end_timestamp"])
    if start is None:
        return None
    if end is None:
        return round((datetime.now(UTC) - start).total_seconds(), 6)
    return round((end - start).total_seconds(), 6)


def masked_parameters(row: dict[str, Any]) -> dict[str, Any]:
    runner_params = (row.get("runner") or {}).get("runner_parameters") or {}
    action_params = (row.get("action") or {}).get("parameters") or {}
    return mask_secrets(merge_schema(runner_params, action_params), row["parameters"] or {})


def view(
    row: dict[str, Any], web_base: str = "", children: list[str] | None = None
) -> dict[str, Any]:
    """StackStorm's JSON for an action execution, secret parameters masked."""
    params = masked_parameters(row)
    start = store.iso(row["start_timestamp"])
    end = store.iso(row["end_timestamp"])
    action = dict(row["action"] or {})
    action = action_view({**action, "id": action.get("id", ""), "ref": row["action_ref"],
                          "pack": action.get("pack", row["action_ref"].split(".")[0]),
                          "name": action.get("name", row["action_ref"].split(".", 1)[-1]),
                          "runner_type": action.get("runner_type", "")}, shown=True)
    context = dict(row["context"] or {})
    body: dict[str, Any] = {
        "id": row["id"],
        "action": action,
        "runner": row["runner"],
        "liveaction": {
            "id": row["id"],
            "action": row["action_ref"],
            "action_is_workflow": action["runner_type"] in WORKFLOW_RUNNERS,
            "parameters": params,
            "status": row["status"],
            "start_timestamp": start,
            "end_timestamp": end,
            "result": row["result"] if row["result"] is not None else {},
            "context": context,
            "callback": {},
            "runner_info": {},
        },
        "status": row["status"],
        "start_timestamp": start,
        "parameters": params,
        "context": context,
        "result": row["result"] if row["result"] is not None else {},
        "children": list(children or []),
        "log": list(row["log"] or []),
        "web_url": f"{web_base}/ui/#/history/{row['id']}/general",
    }
    if end is not None:
        body["end_timestamp"] = end
        body["elapsed_seconds"] = elapsed_seconds(row)
    if row["parent"]:
        body["parent"] = row["parent"]
    return body
