"""Starting tasks: a new workflow's first tasks, the policies before a task runs
(pause-before, wait-before, timeout), and its with-items: items launched while the
concurrency allows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from levante.engine import machine, states
from levante.engine.actions.base import ActionError, UnknownAction
from levante.engine.context import (
    ExpressionFailure,
    evaluate,
    evaluate_guard,
    has_expression,
)
from levante.engine.exceptions import InputError, NotFound
from levante.engine.languages.graph import WorkflowGraph
from levante.engine.step_base import (
    StepBase,
    WfEx,
    _number,
)


class Launching(StepBase):
    """Starting workflows and tasks, and launching their items."""

    @staticmethod
    def expression_defaults(spec: WorkflowGraph, given: Mapping[str, Any] | None) -> list[str]:
        """Inputs the caller left out whose default holds an expression (evaluated by
        `evaluate_input_defaults`); for `create_workflow(runtime={"input_defaults": ...})`."""
        given = given or {}
        return [p.name for p in spec.input
                if not p.required and p.name not in given and has_expression(p.default)]

    def evaluate_input_defaults(self, wf: WfEx) -> None:
        """Evaluate the expressions of input defaults the caller relied on.

        Mistral evaluates workflow-level expressions (its `vars`) over the input with the
        environment and the execution at hand; defaults get the same: in declaration order,
        `$` is the input so far (given values, literal defaults and the defaults evaluated
        before), and `env()` / `execution()` work. Given values are never evaluated.
        Raises ExpressionFailure naming the input; runs once (the names are then dropped).
        """
        rc = wf.row.get("runtime_context") or {}
        names = rc.get("input_defaults")
        if not names:
            return
        values = dict(wf.row.get("input") or {})
        ctx = self.ctx(wf)
        defaults = {p.name: p.default for p in wf.spec.input}
        for name in names:
            try:
                values[name] = evaluate(defaults.get(name), values, ctx)
            except ExpressionFailure as exc:
                raise ExpressionFailure(
                    f"Failed to evaluate the default of input {name!r} of workflow "
                    f"{wf.spec.name!r}: {exc}"
                ) from None
        wf.row["input"] = values
        wf.row["runtime_context"] = {k: v for k, v in rc.items() if k != "input_defaults"}
        self._touch_wf(wf)

    def start(self, wf: WfEx) -> None:
        """Evaluate input defaults and vars, then start the first tasks of a new workflow
        execution. A sub-workflow started while starting its parent starts right after it,
        in the same loop (`cascade`): a deep tree starts without recursion."""
        self.cascade(self._start, wf)

    def _start(self, wf: WfEx) -> None:
        if wf.tasks or wf.state != states.RUNNING:
            return
        try:
            self.evaluate_input_defaults(wf)
        except ExpressionFailure as exc:
            self.finish(wf, states.ERROR, str(exc))
            return
        context = dict(wf.row.get("input") or {})
        try:
            if wf.spec.vars:
                context.update(evaluate(wf.spec.vars, context, self.ctx(wf)))
        except ExpressionFailure as exc:
            self.finish(wf, states.ERROR, f"Failed to evaluate workflow vars: {exc}")
            return
        wf.row["context"] = context
        wf.row["runtime_context"] = {**(wf.row.get("runtime_context") or {}), "started": True}
        self._touch_wf(wf)
        if wf.spec.is_reverse:
            target = (wf.row.get("params") or {}).get("task_name")
            names = wf.spec.start_tasks(target)
        else:
            names = wf.spec.start_tasks()
        if not names:
            self.finish(wf, states.SUCCESS)
            return
        for name in names:
            self.run_task(wf, self._new_task(wf, name, {}, []))

    def run_task(self, wf: WfEx, task: dict[str, Any]) -> None:
        """Policies before the action: pause-before, wait-before; then launch."""
        spec = wf.spec.tasks[task["name"]]
        rc = task["runtime_context"]
        if wf.state == states.PAUSED:
            rc["deferred_start"] = True  # starts when the workflow resumes
            self._touch_task(task)
            return
        rc.pop("deferred_start", None)
        timeout = 0.0
        try:
            data = self.data(wf, task)
            if (
                spec.pause_before
                and not rc.get("paused_before")
                and evaluate_guard(spec.pause_before, data, self.ctx(wf, task))
            ):
                rc["paused_before"] = True
                self.set_task_state(wf, task, states.IDLE)
                self.pause(wf, cascade_up=True)
                return
            if spec.wait_before is not None and not rc.get("waited_before"):
                wait = _number(evaluate(spec.wait_before, data, self.ctx(wf, task)),
                               "wait-before")
                if wait > 0:
                    rc["waited_before"] = True
                    self.set_task_state(wf, task, states.DELAYED)
                    self.timer(wf, task, "wait_before", wait)
                    return
            if spec.timeout is not None:
                timeout = _number(evaluate(spec.timeout, data, self.ctx(wf, task)), "timeout")
                if timeout <= 0:
                    raise ExpressionFailure(
                        f"timeout must be a positive number of seconds, got {timeout:g} "
                        f"from {spec.timeout!r}")
        except ExpressionFailure as exc:
            self.fail_task(wf, task, str(exc))
            return
        self.set_task_state(wf, task, states.RUNNING)
        if timeout > 0:
            # shown as written: "timeout(s)=1", not "1.0"
            rc["timeout"] = int(timeout) if timeout.is_integer() else timeout
            self.timer(wf, task, "timeout", timeout)
        self.launch(wf, task)

    def fail_task(self, wf: WfEx, task: dict[str, Any], info: str) -> None:
        """Fail a task at once (no retry, no publish): e.g. a bad expression."""
        self.set_task_state(wf, task, states.ERROR, info)
        task["processed"] = False
        self.todo.append((wf, task))
        self.touched[wf.id] = wf

    def launch(self, wf: WfEx, task: dict[str, Any]) -> None:
        """Create the action executions (or sub-workflows) of a task, per with-items."""
        spec = wf.spec.tasks[task["name"]]
        rc = task["runtime_context"]
        rc["attempt"] = int(rc.get("attempt", 0)) + 1
        self._touch_task(task)
        try:
            count = 1
            concurrency = 0
            if spec.with_items:
                data = self.data(wf, task)
                ctx = self.ctx(wf, task)
                lists = []
                for var, source in spec.with_items:
                    values = evaluate(source, data, ctx)
                    if not isinstance(values, list | tuple):
                        raise ExpressionFailure(
                            f"with-items: {var} must be a list, got {type(values).__name__} "
                            f"from {source!r}"
                        )
                    lists.append((var, list(values)))
                try:
                    items = machine.zip_items(lists)
                except ValueError as exc:
                    raise ExpressionFailure(str(exc)) from None
                count = len(items)
                rc["items"] = items
                if spec.concurrency is not None:
                    concurrency = int(_number(evaluate(spec.concurrency, data, ctx),
                                              "concurrency"))
        except ExpressionFailure as exc:
            self.fail_task(wf, task, str(exc))
            return
        keep = set(rc.pop("keep_items", []) or [])
        rc["wi"] = {"count": count, "conc": concurrency, "next": 0, "running": 0,
                    "failed": False, "error": None, "skip": sorted(keep)}
        self.item_results[task["id"]] = {}
        self.pump(wf, task)

    def pump(self, wf: WfEx, task: dict[str, Any]) -> None:
        """Launch items while concurrency allows; finish the task when all are done."""
        rc = task["runtime_context"]
        wi = rc["wi"]
        skip = set(wi.get("skip") or [])
        # Without a concurrency limit every item is launched, as Mistral schedules them all
        # at once; with one, no new item starts after a failure.
        while (
            wi["next"] < wi["count"]
            and (not wi["failed"] or wi["conc"] <= 0)
            and task["state"] == states.RUNNING
            and (wi["conc"] <= 0 or wi["running"] < wi["conc"])
        ):
            index = wi["next"]
            wi["next"] += 1
            if index in skip:
                continue
            wi["running"] += 1
            self._launch_item(wf, task, index)
        self._touch_task(task)
        if task["state"] == states.RUNNING and wi["running"] == 0 and (
            wi["next"] >= wi["count"] or (wi["failed"] and wi["conc"] > 0)
        ):
            self.actions_done(wf, task)

    def _item_data(self, wf: WfEx, task: dict[str, Any], index: int) -> dict[str, Any]:
        data = self.data(wf, task)
        items = task["runtime_context"].get("items")
        if items is not None:
            data.update(items[index])
        return data

    def _launch_item(self, wf: WfEx, task: dict[str, Any], index: int) -> None:
        spec = wf.spec.tasks[task["name"]]
        try:
            data = self._item_data(wf, task, index)
            ctx = self.ctx(wf, task)
            if spec.workflow:
                self._launch_subworkflow(wf, task, spec, index, data, ctx)
            else:
                self._launch_action(wf, task, spec, index, data, ctx)
        except (ExpressionFailure, InputError, NotFound, UnknownAction) as exc:
            # the task could not be started: no retry (see actions_done)
            task["runtime_context"]["wi"]["no_retry"] = True
            self.item_done(wf, task, index, states.ERROR, None, str(exc))
        except ActionError as exc:
            self.item_done(wf, task, index, states.ERROR, exc.result, str(exc))
