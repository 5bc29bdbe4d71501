"""Running what a task names: its action (std, ad-hoc or platform action; cheap ones at
once, others queued as jobs) or its sub-workflow, and taking in an action's result that
arrives later."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from levante.engine import platform_actions, states
from levante.engine.actions import get_action
from levante.engine.actions.base import ActionError, StdAction, UnknownAction
from levante.engine.core import machine
from levante.engine.core.context import (
    ExpressionFailure,
    TaskContext,
    evaluate,
    has_expression,
)
from levante.engine.core.exceptions import InputError, NotFound
from levante.engine.core.step.base import (
    StepBase,
    WfEx,
    nesting_of,
)
from levante.engine.languages.graph import TaskNode, WorkflowGraph
from levante.engine.store import definitions
from levante.engine.store import executions as store
from levante.engine.store.definitions import NotFound as DefinitionNotFound


class ActionRunning(StepBase):
    """Running a task's action or sub-workflow; results that arrive later."""

    def resolve_action(self, name: str, namespace: str) -> tuple[StdAction, Any]:
        """(std action to run, ad-hoc spec or None); UnknownAction if there is none."""
        key = f"{namespace}\x00{name}"
        found = self._actions.get(key)
        if found is not None:
            return found
        try:
            result: tuple[StdAction, Any] = (get_action(name), None)
        except UnknownAction:
            adhoc = definitions.get_adhoc_action(self.conn, name, namespace,
                                                     self.shared.parsed)
            if adhoc is None:
                # a platform action (`core.local`): runs as a child execution there
                found_platform = platform_actions.lookup(name)
                if found_platform is None:
                    raise
                result = (found_platform, None)
            else:
                spec = adhoc[1]
                result = (get_action(spec.base), spec)
        self._actions[key] = result
        return result

    def _launch_action(
        self, wf: WfEx, task: dict[str, Any], spec: TaskNode, index: int,
        data: dict[str, Any], ctx: TaskContext,
    ) -> None:
        action_name = self._action_name(task, spec, data, ctx)
        action, adhoc = self.resolve_action(action_name, wf.row["workflow_namespace"])
        raw_input = evaluate(spec.input, data, ctx) if spec.input else {}
        if not isinstance(raw_input, dict):
            raise ExpressionFailure(f"input of task {task['name']!r} must be a dict")
        given = raw_input
        if adhoc is not None:
            adhoc_input = self._adhoc_input(adhoc, raw_input)
            given = evaluate(adhoc.base_input, adhoc_input, ctx) if adhoc.base_input else {}
        validated = action.validate_input(given)
        rc = task["runtime_context"]
        safe = bool(spec.safe_rerun)
        action_id = store.new_id()
        row: dict[str, Any] = {
            "id": action_id, "name": action_name, "description": "",
            "workflow_name": wf.row["workflow_name"],
            "workflow_namespace": wf.row["workflow_namespace"],
            "task_execution_id": task["id"], "workflow_execution_id": wf.id,
            "root_execution_id": wf.row["root_execution_id"], "state": states.RUNNING,
            "state_info": None, "tags": [], "input": action.mask_input(raw_input),
            "output": None,
            "runtime_context": {"index": index, "attempt": rc["attempt"], "safe_rerun": safe,
                                "with_items": bool(spec.with_items)},
            "accepted": False, "is_sync": not action.is_async, "last_heartbeat": None,
            "project_id": store.DEFAULT_PROJECT, "created_at": self._stamp(),
            "updated_at": None,
        }
        if adhoc is not None and adhoc.output is not None:
            row["runtime_context"]["adhoc_output"] = adhoc.output
        self.new_actions[action_id] = row
        if action.can_run_inline(validated) and not action.is_async:
            try:
                value = action.run_inline(validated)
                state, info = states.SUCCESS, None
            except ActionError as exc:
                value, state, info = exc.result, states.ERROR, str(exc)
            row.update(state=state, output={"result": value}, state_info=info,
                       accepted=True, updated_at=self.now)
            if state == states.SUCCESS and adhoc is not None and adhoc.output is not None:
                value = self._adhoc_output(adhoc.output, value, ctx)
            self.item_done(wf, task, index, state, value, info)
            return
        wait = action.waits_for(validated) if not action.is_async else 0.0
        if wait > 0:
            # Only waiting: a timer in the database answers it when the wait is over.
            self.add_job(wf, "step", {"event": "action_wait", "action_id": action_id,
                                      "value": action.run_inline(validated)}, wait)
            return
        queued = platform_actions.job_input(action, validated, wf.row, task)
        self.add_job(wf, "action", {"action_id": action_id, "input": queued,
                                    "action": action.name, "task_id": task["id"],
                                    "task_name": task["name"]})

    @staticmethod
    def _action_name(
        task: Mapping[str, Any], spec: TaskNode, data: dict[str, Any], ctx: TaskContext
    ) -> str:
        """The action a task runs: `action: <% expr %>` is evaluated per item, as Mistral
        evaluates a dynamic action name each time it builds the action."""
        name = spec.action or "std.noop"
        if not has_expression(name):
            return name
        value = evaluate(name, data, ctx)
        if not isinstance(value, str) or not value.strip():
            raise ExpressionFailure(
                f"action of task {task['name']!r} must evaluate to an action name, got "
                f"{value!r} from {name!r}"
            )
        return value.strip()

    @staticmethod
    def _adhoc_input(adhoc: Any, given: Mapping[str, Any]) -> dict[str, Any]:
        names = adhoc.input_names()
        unknown = sorted(k for k in given if k not in names)
        if unknown:
            raise InputError(
                f"Invalid input for action {adhoc.name}: unexpected parameter(s) "
                f"{', '.join(unknown)} (expected: {', '.join(names) or 'none'})"
            )
        values: dict[str, Any] = {}
        for p in adhoc.input:
            if p.name in given:
                values[p.name] = given[p.name]
            elif p.required:
                raise InputError(
                    f"Invalid input for action {adhoc.name}: missing required parameter "
                    f"{p.name}"
                )
            else:
                values[p.name] = p.default
        return values

    @staticmethod
    def _adhoc_output(output: Any, value: Any, ctx: TaskContext) -> Any:
        """An ad-hoc action's `output`, where `$` is the base action's result itself."""
        return evaluate(output, value, ctx)

    def _launch_subworkflow(
        self, wf: WfEx, task: dict[str, Any], spec: TaskNode, index: int,
        data: dict[str, Any], ctx: TaskContext,
    ) -> None:
        name = evaluate(spec.workflow, data, ctx)
        if not isinstance(name, str) or not name:
            raise ExpressionFailure(f"workflow of task {task['name']!r} must be a name")
        nesting = nesting_of(wf.row) + 1
        limit = self.settings.max_nesting_depth
        if nesting > limit:
            raise InputError(
                f"Workflow {name!r} cannot start: it would be nested {nesting} workflows "
                f"deep, more than the limit of {limit} ([engine] max_nesting_depth). Does "
                f"a workflow start itself without end?")
        definition, sub_spec = self._subworkflow_definition(
            wf, name, computed=has_expression(spec.workflow)
        )
        raw_input = evaluate(spec.input, data, ctx) if spec.input else {}
        try:
            sub_input = machine.workflow_input(sub_spec, raw_input)
        except machine.InputError as exc:
            raise InputError(str(exc)) from None
        params = wf.row.get("params") or {}
        sub_params: dict[str, Any] = {
            k: params[k] for k in ("env", "notify") if params.get(k) is not None
        }
        runtime: dict[str, Any] = {"index": index,
                                   "attempt": task["runtime_context"]["attempt"],
                                   "nesting": nesting}
        defaults = self.expression_defaults(sub_spec, raw_input)
        if defaults:
            runtime["input_defaults"] = defaults
        child = self.create_workflow(
            sub_spec, definition, sub_input, sub_params, parent=(wf, task), runtime=runtime,
        )
        self.start(child)

    def _subworkflow_definition(
        self, wf: WfEx, name: str, computed: bool
    ) -> tuple[dict[str, Any], WorkflowGraph]:
        """The workflow a task names. Inside a workbook a name is first looked up as
        `<workbook>.<name>`, then as given (Mistral's rule); the parser has already done
        so for names written out, so only a name computed by an expression is looked up
        here."""
        namespace = wf.row["workflow_namespace"]
        if computed:
            own, _ = self.shared.definitions.workflow_definition(
                self.conn, wf.row.get("workflow_id") or wf.row["workflow_name"], namespace
            )
            book = own.get("workbook_name")
            if book and not name.startswith(f"{book}."):
                try:
                    return self.shared.definitions.workflow_definition(
                        self.conn, f"{book}.{name}", namespace)
                except (NotFound, DefinitionNotFound):
                    pass
        return self.shared.definitions.workflow_definition(self.conn, name, namespace)

    def on_action_wait(self, payload: Mapping[str, Any]) -> None:
        """The wait of a waiting-only action (std.sleep) is over."""
        action = store.get_action(self.conn, str(payload["action_id"]))
        if action is None or action["state"] != states.RUNNING:
            return  # canceled, timed out or failed meanwhile
        self.action_result(action, states.SUCCESS, payload.get("value"), None)

    def action_result(
        self, action: dict[str, Any], state: str, value: Any, info: str | None
    ) -> None:
        """An action that ran outside a step ended (or an async result arrived)."""
        updates = {"state": state, "output": {"result": value}, "state_info": info,
                   "accepted": True, "updated_at": self.now}
        self.action_updates[action["id"]] = updates
        task_id = action.get("task_execution_id")
        if not task_id:
            return
        try:
            wf, task = self.task(task_id)
        except NotFound:
            return
        arc = action.get("runtime_context") or {}
        rc = task["runtime_context"]
        if task["state"] != states.RUNNING or arc.get("attempt") != rc.get("attempt"):
            return
        if state == states.SUCCESS and arc.get("adhoc_output") is not None:
            try:
                value = self._adhoc_output(arc["adhoc_output"], value, self.ctx(wf, task))
            except ExpressionFailure as exc:
                state, info = states.ERROR, str(exc)
        self.item_done(wf, task, int(arc.get("index", 0)), state, value, info, pump=True)
        self.advance()
