"""The engine's public operations: the methods of `EngineRuntime`, which the REST layer,
the workers, the cron service (and tests) call.

An `EngineRuntime` is one engine over one database with its settings (`EngineSettings`),
the caches its steps share and the wake-up of its workers; the engine service builds one.
Each operation runs one transaction: it locks the execution tree it touches, decides with a
`Step`, writes rows, follow-up jobs and outbox events, commits, and only then wakes the
workers of this process (other processes are woken by NOTIFY on PostgreSQL). Errors are
typed (`NotFound`, `InvalidStateTransition`, `InputError`) for the API to map.

Call these methods from a worker thread (e.g. Starlette's `run_in_threadpool`), not
from inside a running event loop: `run_action` may run an action to completion.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from levante.db import faults
from levante.db.connect import writing
from levante.engine import states
from levante.engine.actions.base import ActionContext, ActionError, UnknownAction
from levante.engine.core import machine
from levante.engine.core.context import ExpressionFailure, evaluate
from levante.engine.core.exceptions import (
    InputError,
    InvalidStateTransition,
    NotAllowed,
    NotFound,
)
from levante.engine.core.step import StaleDefinition, Step, StepShared
from levante.engine.settings import EngineSettings
from levante.engine.store import definitions
from levante.engine.store import executions as store

__all__ = [
    "EngineRuntime",
    "InputError",
    "InvalidStateTransition",
    "NotAllowed",
    "NotFound",
    "writer",
]

log = logging.getLogger("levante.engine.runtime")

# A connection in a write transaction, queued behind this process's other writers.
writer = writing


def _public(row: Mapping[str, Any]) -> dict[str, Any]:
    return dict(row)


def _resolve_env(conn: Connection, env: Any) -> Any:
    """params.env as given, or the variables of the environment it names (Mistral answers
    400 "Environment is not found" for an unknown name)."""
    if isinstance(env, str) and env:
        try:
            return definitions.get_environment(conn, env)["variables"]
        except definitions.NotFound:
            raise InputError(f"Environment is not found: {env}") from None
    if env is not None and not isinstance(env, dict):
        raise InputError("params.env must be an object or the name of an environment")
    return env


def _load(step: Step, execution_id: str) -> Any:
    wf = step.load(execution_id)
    if wf is None:
        raise NotFound(f"Workflow execution not found [id={execution_id}]")
    return wf


def _root_of(db: Engine, execution_id: str) -> str:
    with db.connect() as conn:
        row = store.get_workflow(conn, execution_id)
    if row is None:
        raise NotFound(f"Workflow execution not found [id={execution_id}]")
    return str(row["root_execution_id"])


def _task_root(db: Engine, task_id: str) -> str:
    with db.connect() as conn:
        row = store.get_task(conn, task_id)
    if row is None:
        raise NotFound(f"Task execution not found [id={task_id}]")
    return str(row["root_execution_id"])


def _result_of(state: str, output: Any) -> tuple[Any, str | None]:
    value = output
    if isinstance(output, Mapping) and set(output) == {"result"}:
        value = output["result"]
    info = None
    if state == states.ERROR:
        info = value if isinstance(value, str) else repr(value)
    return value, info


REPORT_SET_ASIDE = (
    "The report of the end of action execution {id} was set aside: processing it failed "
    "or stopped the engine {n} times (max_step_attempts); see the engine log."
)


def _count_report_attempt(db: Engine, action_id: str, root: str | None) -> int:
    """Count one more attempt at the report of an action's end, committed before the
    report is processed, so that one that stops the process counts too. Returns it."""
    with writer(db) as conn:
        if root is not None:
            store.lock_root(conn, root)
        action = store.get_action(conn, action_id)
        if action is None or states.is_completed(action["state"]):
            return 0
        rc = dict(action.get("runtime_context") or {})
        rc["report_attempts"] = int(rc.get("report_attempts") or 0) + 1
        store.update_action(conn, action_id, {"runtime_context": rc})
    if rc["report_attempts"] > 1:
        log.warning("[%s] the report of the end of action execution %s: attempt %d",
                    action.get("workflow_execution_id"), action_id, rc["report_attempts"])
    return int(rc["report_attempts"])


def _set_report_aside(step: Step, action: dict[str, Any], attempt: int) -> None:
    """The report of `action`'s end failed every attempt: its task fails with the reason
    instead (the result is not looked at). Should failing the task fail again, the
    workflow fails outright; after that, the action alone is marked failed."""
    limit = step.settings.max_attempts
    reason = REPORT_SET_ASIDE.format(id=action["id"], n=attempt - 1)
    log.error("[%s] %s", action.get("workflow_execution_id"), reason)
    if attempt == limit + 1:
        step.action_result(action, states.ERROR, None, reason)
        return
    step.action_updates[action["id"]] = {"state": states.ERROR, "state_info": reason,
                                         "updated_at": step.now}
    if attempt == limit + 2 and action.get("workflow_execution_id"):
        wf = step.load(str(action["workflow_execution_id"]))
        if wf is not None and not states.is_completed(wf.state):
            step.fail(wf, reason)


class EngineRuntime:
    """The engine of one process over one database: its settings, the caches its steps
    share, and the wake-up of its workers. Built once by the engine service (or a test)
    and given to the API app, the workers and the cron service."""

    def __init__(self, db: Engine, settings: EngineSettings | None = None) -> None:
        self.db = db
        self.settings = settings or EngineSettings()
        self._listeners: list[Callable[[], None]] = []
        self._listeners_lock = threading.Lock()
        self.shared = StepShared(self.settings, self.wake)

    def add_wake_listener(self, callback: Callable[[], None]) -> None:
        """`callback` (thread-safe) is called whenever work became due in this runtime."""
        with self._listeners_lock:
            self._listeners.append(callback)

    def remove_wake_listener(self, callback: Callable[[], None]) -> None:
        with self._listeners_lock:
            if callback in self._listeners:
                self._listeners.remove(callback)

    def wake(self) -> None:
        """Wake this runtime's workers (the hook the API and the cron service may call)."""
        with self._listeners_lock:
            callbacks = list(self._listeners)
        for cb in callbacks:
            cb()

    @contextmanager
    def stepping(self, root_id: str | None = None) -> Iterator[Step]:
        """A Step in a write transaction; flushed and committed on success, then wakes."""
        with writer(self.db) as conn:
            if root_id is not None:
                store.lock_root(conn, root_id)
            step = Step(conn, self.shared)
            yield step
            step.flush()
        step.after_commit()

    def start_workflow(
        self, *, workflow_identifier: str, namespace: str = "",
        input: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None,
        description: str = "", execution_id: str | None = None, user: str | None = None,
    ) -> dict[str, Any]:
        """Create a workflow execution and start it; returns its row.

        The first tasks start in the creating transaction (cheap inline actions run there;
        everything else is queued), unless `self.settings.inline_start` is off, when a worker
        starts it. The returned state is RUNNING, or already final for short workflows.
        Idempotent for a client-given `execution_id`: a second call returns the first row.
        `params` may hold `env` (object or environment name), `notify` (event subscribers),
        `task_name` (the target of a reverse workflow). `user` (who started it) is kept in
        ``runtime_context.user``; its platform actions run as that user.
        """
        args = (workflow_identifier, namespace, input, params, description, execution_id,
                user)
        if not self.settings.inline_start:
            return self._start(*args, inline=False)
        try:
            return self._start(*args, inline=True)
        except definitions.DefinitionError:
            raise
        except Exception as exc:
            # A bug in a first step must not lose the request: queue the start instead, the
            # worker retries it and fails the execution with a clear state_info at worst.
            if faults.refuses_writes(exc):  # the queued start is refused too: 503, retried
                raise
            log.exception("starting workflow %s at once failed; queued", workflow_identifier)
            return self._start(*args, inline=False)

    def _start(
        self, workflow_identifier: str, namespace: str,
        input: Mapping[str, Any] | None, params: Mapping[str, Any] | None, description: str,
        execution_id: str | None, user: str | None, inline: bool,
    ) -> dict[str, Any]:
        args = (workflow_identifier, namespace, input, params, description, execution_id,
                user, inline)
        try:
            return self._start_once(*args, optimistic=True)
        except (StaleDefinition, InputError):
            # The cached definition changed meanwhile, or the input was refused by a cached
            # definition not checked yet (nothing was committed): read the definition now.
            return self._start_once(*args, optimistic=False)

    def _start_once(
        self, workflow_identifier: str, namespace: str,
        input: Mapping[str, Any] | None, params: Mapping[str, Any] | None, description: str,
        execution_id: str | None, user: str | None, inline: bool, optimistic: bool,
    ) -> dict[str, Any]:
        if input is not None and not isinstance(input, Mapping):
            raise InputError("input must be an object")
        params_d: dict[str, Any] = dict(params or {})
        with writer(self.db) as conn:
            if execution_id:
                existing = store.get_workflow(conn, execution_id)
                if existing is not None:
                    return _public(existing)
            step = Step(conn, self.shared)
            definition, spec = self.shared.definitions.workflow_definition(
                conn, workflow_identifier, namespace,
                deferred=step.stamp_checks if optimistic else None,
            )
            try:
                wf_input = machine.workflow_input(spec, input)
            except machine.InputError as exc:
                raise InputError(str(exc)) from None
            if "env" in params_d:
                params_d["env"] = _resolve_env(conn, params_d["env"])
            if spec.is_reverse:
                target = params_d.get("task_name")
                if not target:
                    raise InputError(
                        f"Workflow {spec.name!r} is a reverse workflow: params.task_name must "
                        "name the task to run"
                    )
                if target not in spec.tasks:
                    raise InputError(
                        f"params.task_name: workflow {spec.name!r} has no task {target!r}"
                    )
            notify = params_d.get("notify")
            if notify is not None and not isinstance(notify, list):
                raise InputError("params.notify must be a list of subscribers")
            defaults = step.expression_defaults(spec, input)
            runtime: dict[str, Any] = {"input_defaults": defaults} if defaults else {}
            if user:
                runtime["user"] = user
            wf = step.create_workflow(spec, definition, wf_input, params_d, description,
                                      execution_id, runtime=runtime or None)
            try:
                step.evaluate_input_defaults(wf)
            except ExpressionFailure as exc:
                raise InputError(str(exc)) from None
            if inline:
                step.start(wf)
                step.advance()
            else:
                step.add_job(wf, "step", {"event": "start"})
            step.flush()
            row = dict(wf.row)
        step.after_commit()
        return _public(row)

    def set_workflow_state(
        self, execution_id: str, state: str, state_info: str | None = None,
        env: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """PAUSED pauses, RUNNING resumes (or re-runs the failed tasks of a workflow in ERROR),
        CANCELLED cancels, ERROR fails, SUCCESS succeeds a workflow execution."""
        if state not in states.ALL:
            expected = ", ".join(sorted(states.ALL))
            raise InputError(f"Unknown state {state!r} (expected one of {expected})")
        root = _root_of(self.db, execution_id)
        with self.stepping(root) as step:
            wf = _load(step, execution_id)
            current = wf.state
            if env:
                params = dict(wf.row.get("params") or {})
                params["env"] = machine.merge(params.get("env") or {}, dict(env))
                wf.row["params"] = params
                step._touch_wf(wf)
            if state == current:
                return _public(wf.row)
            if states.is_completed(current) and not (
                state == states.RUNNING and current == states.ERROR
            ):
                raise InvalidStateTransition(
                    f"Can't change state of workflow execution {execution_id} from {current} to "
                    f"{state}: it has already ended"
                )
            if state == states.PAUSED:
                if current != states.RUNNING:
                    raise InvalidStateTransition(
                        f"Can't pause workflow execution {execution_id} in state {current}"
                    )
                step.pause(wf, cascade_up=True, info=state_info)
            elif state == states.RUNNING:
                if current == states.PAUSED:
                    step.resume(wf)
                else:
                    failed = [t for t in wf.tasks
                              if t["state"] == states.ERROR and not t["error_handled"]]
                    if not failed:
                        raise InvalidStateTransition(
                            f"Workflow execution {execution_id} has no failed task to re-run"
                        )
                    for t in failed:
                        if wf.state == states.RUNNING and t["state"] != states.ERROR:
                            continue
                        step.rerun(wf, t, reset=True)
            elif state == states.CANCELLED:
                step.cancel(wf, state_info)
                step.advance()
            elif state == states.ERROR:
                step.fail(wf, state_info or "Failed by request")
            elif state == states.SUCCESS:
                step.succeed(wf, state_info)
            else:
                raise InvalidStateTransition(
                    f"Can't change state of workflow execution {execution_id} to {state}"
                )
            row = dict(wf.row)
        return _public(row)

    def delete_execution(self, execution_id: str, force: bool = False) -> None:
        """Delete a workflow execution with everything under it.

        As Mistral, only an ended execution is deleted unless `force` is given.
        """
        root = _root_of(self.db, execution_id)
        with writer(self.db) as conn:
            store.lock_root(conn, root)
            row = store.get_workflow(conn, execution_id)
            if row is None:
                raise NotFound(f"Workflow execution not found [id={execution_id}]")
            if not force and not states.is_completed(row["state"]):
                raise NotAllowed(
                    "Only completed executions can be deleted. Use --force to override this. "
                    f"Execution {execution_id} is in {row['state']} state"
                )
            store.delete_tree(conn, execution_id)

    def rerun_task(
        self, task_id: str, reset: bool = True, env: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run a task in ERROR again (PUT /v2/tasks/<id> with state RUNNING); `reset=False`
        keeps the items of a with-items task that succeeded. Returns the task row."""
        root = _task_root(self.db, task_id)
        with self.stepping(root) as step:
            wf, task = step.task(task_id)
            if wf.state not in (states.ERROR, states.RUNNING, states.PAUSED):
                raise InvalidStateTransition(
                    f"Can't re-run task {task_id}: its workflow execution is in state {wf.state}"
                )
            if env:
                params = dict(wf.row.get("params") or {})
                params["env"] = machine.merge(params.get("env") or {}, dict(env))
                wf.row["params"] = params
                step._touch_wf(wf)
            step.rerun(wf, task, reset)
            row = dict(task)
        return row

    def skip_task(self, task_id: str) -> dict[str, Any]:
        """Mark a task in ERROR as SKIPPED; its workflow goes on as after a success."""
        root = _task_root(self.db, task_id)
        with self.stepping(root) as step:
            wf, task = step.task(task_id)
            step.skip(wf, task)
            row = dict(task)
        return row

    def complete_action_execution(
        self, action_execution_id: str, state: str, output: Any = None
    ) -> dict[str, Any]:
        """Record the result of an asynchronous action (PUT /v2/action_executions/<id>)."""
        if state not in (states.SUCCESS, states.ERROR, states.CANCELLED, states.RUNNING,
                         states.PAUSED):
            raise InputError(f"Unsupported action execution state {state!r}")
        with self.db.connect() as conn:
            action = store.get_action(conn, action_execution_id)
        if action is None:
            raise NotFound(f"Action execution not found [id={action_execution_id}]")
        root = action.get("root_execution_id")
        attempt = 0
        if (state not in (states.RUNNING, states.PAUSED) and action.get("task_execution_id")
                and not states.is_completed(action["state"])):
            attempt = _count_report_attempt(self.db, action_execution_id, root)
        with self.stepping(root) as step:
            action = store.get_action(step.conn, action_execution_id)
            if action is None:
                raise NotFound(f"Action execution not found [id={action_execution_id}]")
            if states.is_completed(action["state"]):
                raise InvalidStateTransition(
                    f"Action execution {action_execution_id} has already ended "
                    f"({action['state']})"
                )
            if state in (states.RUNNING, states.PAUSED):
                step.action_updates[action["id"]] = {"state": state, "updated_at": step.now}
                action["state"] = state
                return action
            if attempt > self.settings.max_attempts:
                _set_report_aside(step, action, attempt)
            else:
                value, info = _result_of(state, output)
                step.action_result(action, state, value, info)
            action.update(step.action_updates[action["id"]])
        return action

    def run_action(
        self, name: str, input: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None, description: str = "",
    ) -> dict[str, Any]:
        """Run an action alone (POST /v2/action_executions); synchronous by default.

        `params.run_sync` (default: true unless the action is asynchronous) and
        `params.namespace` are understood. Returns the action execution row.
        """
        params_d = dict(params or {})
        if input is not None and not isinstance(input, Mapping):
            raise InputError("input must be an object")
        raw = dict(input or {})
        with writer(self.db) as conn:
            step = Step(conn, self.shared)
            try:
                action, adhoc = step.resolve_action(name, str(params_d.get("namespace") or ""))
            except UnknownAction as exc:
                raise NotFound(str(exc)) from None
            given = raw
            try:
                if adhoc is not None:
                    values = step._adhoc_input(adhoc, raw)
                    given = (evaluate(adhoc.base_input, values, None,
                                      self.settings.expression_timeout)
                             if adhoc.base_input else {})
                validated = action.validate_input(given)
            except ActionError as exc:
                raise InputError(str(exc)) from None
            action_id = store.new_id()
            run_sync = params_d.get("run_sync")
            if run_sync is None:
                run_sync = not action.is_async
            row: dict[str, Any] = {
                "id": action_id, "name": name, "description": description or "",
                "workflow_name": None, "workflow_namespace": None, "task_execution_id": None,
                "workflow_execution_id": None, "root_execution_id": None,
                "state": states.RUNNING, "state_info": None, "tags": [],
                "input": action.mask_input(raw), "output": None,
                "runtime_context": {"index": 0, "attempt": 1, "safe_rerun": False,
                                    "adhoc_output": adhoc.output if adhoc is not None else None},
                "accepted": False, "is_sync": not action.is_async, "last_heartbeat": None,
                "project_id": store.DEFAULT_PROJECT, "created_at": step.now, "updated_at": None,
            }
            store.insert_actions(conn, [row])
            if not run_sync:
                store.enqueue(conn, [{
                    "kind": "action", "root_execution_id": action_id, "execution_id": action_id,
                    "payload": {"action_id": action_id, "input": validated, "action": action.name},
                }])
        if not run_sync:
            self.wake()
            return row
        ctx = ActionContext(action_execution_id=action_id, config=self.settings.config,
                            callback_url=self._callback(action_id))
        try:
            if action.can_run_inline(validated) and not action.is_async:
                value = action.run_inline(validated)
            else:
                value = asyncio.run(action.run(validated, ctx))
            state, info = states.SUCCESS, None
        except ActionError as exc:
            value, state, info = exc.result, states.ERROR, str(exc)
        if action.is_async and state == states.SUCCESS:
            return row
        if state == states.SUCCESS and adhoc is not None and adhoc.output is not None:
            value = evaluate(adhoc.output, value, None, self.settings.expression_timeout)
        values = {"state": state, "output": {"result": value}, "state_info": info,
                  "accepted": True, "updated_at": store.utcnow()}
        with writer(self.db) as conn:
            store.update_action(conn, action_id, values)
        row.update(values)
        return row

    def _callback(self, action_id: str) -> str | None:
        base = self.settings.callback_base
        if not base:
            return None
        return f"{base.rstrip('/')}/v2/action_executions/{action_id}"
