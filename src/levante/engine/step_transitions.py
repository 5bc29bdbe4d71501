"""After tasks end: their on-* transitions, joins, reverse-workflow readiness, engine
commands, and finishing the workflow (output, parent task)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from levante.engine import machine, states
from levante.engine.context import (
    ExpressionFailure,
    TaskContext,
    data_view,
    evaluate,
    evaluate_guard,
)
from levante.engine.languages.graph import Target
from levante.engine.step_base import (
    StepBase,
    WfEx,
    _strip_hidden,
)


class Transitions(StepBase):
    """Transitions between tasks and the end of workflows."""

    def advance(self) -> None:
        """Process finished tasks, start the next ones, finish workflows; until quiet."""
        guard_loops = 0
        while True:
            while self.todo:
                wf, task = self.todo.popleft()
                if wf.state == states.RUNNING and not task["processed"] and \
                        states.is_completed(task["state"]):
                    self._process(wf, task)
            if not self.touched:
                break
            wf_list = list(self.touched.values())
            self.touched.clear()
            for wf in wf_list:
                if wf.state != states.RUNNING:
                    continue
                if wf.spec.is_reverse:
                    self._reverse_check(wf)
                else:
                    self._check_joins(wf)
                    if not self.todo:
                        outcome = machine.direct_outcome(self._views_list(wf))
                        if outcome is not None:
                            self._finish_outcome(wf, outcome)
            guard_loops += 1
            if guard_loops > 100000:  # pragma: no cover - a bug, not a workflow
                raise RuntimeError("the step did not settle")
            if not self.todo and not self.touched:
                break

    def _views_list(self, wf: WfEx) -> list[machine.TaskView]:
        return [
            machine.TaskView(
                t["name"], t["state"], bool(t["processed"]),
                tuple((t.get("runtime_context") or {}).get("routed_to") or ()),
                bool(t["error_handled"]), bool(t["has_next_tasks"]),
            )
            for t in wf.tasks
        ]

    def _views(self, wf: WfEx) -> dict[str, list[machine.TaskView]]:
        views: dict[str, list[machine.TaskView]] = {}
        for v in self._views_list(wf):
            views.setdefault(v.name, []).append(v)
        return views

    def _outbound(self, task: Mapping[str, Any]) -> dict[str, Any]:
        return machine.merge(task.get("in_context") or {}, task.get("published") or {})

    def _process(self, wf: WfEx, task: dict[str, Any]) -> None:
        spec = wf.spec.tasks[task["name"]]
        rc = task["runtime_context"]
        self._touch_task(task)
        self.touched[wf.id] = wf
        if wf.spec.is_reverse or task["state"] == states.CANCELLED:
            task["processed"] = True
            return
        outbound = self._outbound(task)
        data = data_view(wf, outbound)
        ctx = self.ctx(wf, task)
        try:
            targets = machine.next_targets(
                spec, task["state"], lambda g: evaluate_guard(g, data, ctx)
            )
        except ExpressionFailure as exc:
            if task["state"] == states.ERROR:
                targets = []
                task["state_info"] = f"{task.get('state_info') or ''}; {exc}".lstrip("; ")
            else:
                self.set_task_state(wf, task, states.ERROR, str(exc))
                try:
                    targets = machine.next_targets(
                        spec, states.ERROR, lambda g: evaluate_guard(g, data, ctx)
                    )
                except ExpressionFailure:
                    targets = []
        routed = [t.task for _, t in targets if not t.is_command]
        task["processed"] = True
        task["has_next_tasks"] = bool(routed)
        # As Mistral: only an on-error transition (a task or an engine command, `noop`
        # included) handles the error; on-complete runs but leaves the error unhandled.
        task["error_handled"] = task["state"] == states.ERROR and any(
            kind == "on-error" for kind, _ in targets
        )
        rc["routed_to"] = routed
        for i, (kind, target) in enumerate(targets):
            if states.is_completed(wf.state):
                break
            if wf.state == states.PAUSED:
                # after a `pause` command: the rest go on when the workflow resumes
                rc["after_pause"] = [[k, t.task] for k, t in targets[i:] if not t.is_command]
                break
            if target.is_command:
                self._command(wf, task, target, data, ctx)
            else:
                self._arrive(wf, target.task, task, kind, outbound)

    def _command(
        self, wf: WfEx, task: dict[str, Any], target: Target,
        data: dict[str, Any], ctx: TaskContext,
    ) -> None:
        try:
            params = evaluate(target.params, data, ctx) if target.params else {}
        except ExpressionFailure as exc:
            params = {"msg": str(exc)}
        msg = params.get("msg") if isinstance(params, dict) else None
        if target.task == "fail":
            info = str(msg) if msg else f"Failed by the 'fail' command of task {task['name']!r}"
            self.finish(wf, states.ERROR, info)
        elif target.task == "succeed":
            self.finish(wf, states.SUCCESS, str(msg) if msg else None)
        elif target.task == "pause":
            self.pause(wf, cascade_up=True, info=str(msg) if msg else None)

    def _arrive(
        self, wf: WfEx, name: str, source: dict[str, Any], kind: str,
        outbound: dict[str, Any],
    ) -> None:
        spec = wf.spec.tasks.get(name)
        if spec is None:
            return
        trigger = [source["id"], kind]
        if spec.join:
            execs = wf.by_name.get(name) or []
            waiting = next((t for t in execs if t["state"] == states.WAITING), None)
            if waiting is None:
                if execs:
                    return  # a join runs once
                self._new_task(wf, name, outbound, [trigger], states.WAITING)
                return
            waiting["in_context"] = machine.merge(waiting["in_context"], outbound)
            waiting["runtime_context"]["triggered_by"].append(trigger)
            self._touch_task(waiting)
            return
        task = self._new_task(wf, name, outbound, [trigger])
        if wf.state == states.PAUSED:
            # after a `pause` command: the task starts when the workflow resumes
            task["runtime_context"]["deferred_start"] = True
            return
        self.run_task(wf, task)

    def _check_joins(self, wf: WfEx) -> None:
        waiting = [t for t in wf.tasks if t["state"] == states.WAITING]
        if not waiting:
            return
        for task in waiting:
            status = machine.join_status(wf.spec, task["name"], self._views(wf))
            if status == machine.SATISFIED:
                self.run_task(wf, task)
            elif status == machine.IMPOSSIBLE:
                self.fail_task(
                    wf, task, f"Join of task {task['name']!r} can't be satisfied: an inbound "
                    "task ended without a transition to it"
                )

    def _reverse_check(self, wf: WfEx) -> None:
        target = (wf.row.get("params") or {}).get("task_name")
        closure = wf.spec.required_closure(target)
        views = self._views(wf)
        for name in machine.reverse_ready(wf.spec, closure, views):
            in_ctx: dict[str, Any] = {}
            for req in wf.spec.tasks[name].requires:
                for t in wf.by_name.get(req, []):
                    in_ctx = machine.merge(in_ctx, self._outbound(t))
            self.run_task(wf, self._new_task(wf, name, in_ctx, []))
        if self.todo:
            return
        outcome = machine.reverse_outcome(closure, self._views(wf))
        if outcome is not None:
            self._finish_outcome(wf, outcome)

    def _finish_outcome(self, wf: WfEx, outcome: machine.Outcome) -> None:
        if outcome.state == states.ERROR:
            lines = [f"Failure caused by error in tasks: {', '.join(outcome.failed_tasks)}", ""]
            for name in outcome.failed_tasks:
                for t in wf.by_name.get(name, []):
                    if t["state"] == states.ERROR:
                        lines.append(f"  {name} [task_ex_id={t['id']}] -> {t.get('state_info')}")
            self.finish(wf, states.ERROR, "\n".join(lines))
        elif outcome.state == states.CANCELLED:
            names = [t["name"] for t in wf.tasks if t["state"] == states.CANCELLED]
            self.finish(wf, states.CANCELLED, f"Cancelled tasks: {', '.join(names)}")
        else:
            self.finish(wf, states.SUCCESS)

    def final_context(self, wf: WfEx) -> dict[str, Any]:
        """Mistral's final context: what the tasks that ended the workflow published (with
        what they received), merged. Neither the input nor `vars` are in it: they are
        layers under it when an expression reads `$`, as under a task's context."""
        ctx: dict[str, Any] = {}
        for t in wf.tasks:
            if not states.is_completed(t["state"]) or t["state"] == states.CANCELLED:
                continue
            if wf.spec.is_reverse or not t["has_next_tasks"]:
                ctx = machine.merge(ctx, self._outbound(t))
        return _strip_hidden(ctx)

    def finish(self, wf: WfEx, state: str, info: str | None = None) -> None:
        """End a workflow execution: output, state, event, then its parent task.

        As Mistral 23: without `output`, the output is the final context; on ERROR it is
        `{"result": <state_info>}` merged with `output-on-error` (or, without it, the final
        context), the latter winning."""
        if states.is_completed(wf.state):
            return
        final = self.final_context(wf)
        data = data_view(wf, final)
        ctx = self.ctx(wf)
        if state == states.SUCCESS:
            try:
                if wf.spec.output is not None:
                    output = evaluate(wf.spec.output, data, ctx)
                    wf.row["output"] = output if output is not None else {}
                else:
                    wf.row["output"] = final
            except ExpressionFailure as exc:
                state, info = states.ERROR, f"Failed to evaluate workflow output: {exc}"
        if state == states.ERROR:
            output = {"result": info}
            try:
                extra = final
                if wf.spec.output_on_error is not None:
                    extra = evaluate(wf.spec.output_on_error, data, ctx)
                if isinstance(extra, dict):
                    output = machine.merge(output, extra)
            except ExpressionFailure as exc:
                output["output_on_error_error"] = str(exc)
            wf.row["output"] = output
        if state == states.CANCELLED:
            wf.row["output"] = {"result": info} if info else {}
        self.set_wf_state(wf, state, info)
        if state == states.CANCELLED:
            self._cancel_tasks(wf, info)
        self._child_done(wf)

    def _child_done(self, child: WfEx) -> None:
        parent = self.parent_of(child)
        if parent is None:
            return
        pwf, ptask = parent
        if ptask["state"] not in (states.RUNNING, states.PAUSED):
            return
        index = int((child.row.get("runtime_context") or {}).get("index", 0))
        if child.state == states.CANCELLED:
            self.set_task_state(pwf, ptask, states.CANCELLED, child.row.get("state_info"))
            ptask["processed"] = True
            if pwf.state in (states.RUNNING, states.PAUSED):
                self.cancel(pwf, f"Cancelled tasks: {ptask['name']}")
            return
        if ptask["state"] == states.PAUSED:
            ptask["state"] = states.RUNNING
        self.item_done(pwf, ptask, index, child.state, child.row.get("output"),
                       child.row.get("state_info"), pump=True)
        self.touched[pwf.id] = pwf
