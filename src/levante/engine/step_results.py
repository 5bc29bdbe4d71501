"""A task's items ended: retry, fail-on, wait-after, publish and keep-result, then the task
is done; timers (waits, retries, timeouts) that fire for it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from levante.engine import machine, states
from levante.engine.context import (
    ExpressionFailure,
    TaskContext,
    evaluate,
    evaluate_guard,
)
from levante.engine.exceptions import NotFound
from levante.engine.languages.graph import TaskNode
from levante.engine.step_base import (
    StepBase,
    WfEx,
    _number,
    _short,
)
from levante.engine.store import executions as store


class Completion(StepBase):
    """Finishing tasks: policies after the action, then publish; timers."""

    def item_done(
        self, wf: WfEx, task: dict[str, Any], index: int, state: str, value: Any,
        info: str | None, pump: bool = False,
    ) -> None:
        rc = task["runtime_context"]
        wi = rc["wi"]
        wi["running"] = max(0, wi["running"] - 1)
        self.item_results.setdefault(task["id"], {})[index] = (state, value)
        if state != states.SUCCESS and not wi["failed"]:
            wi["failed"] = True
            wi["error"] = info
        self._touch_task(task)
        if pump:
            self.pump(wf, task)

    def _results(self, wf: WfEx, task: dict[str, Any]) -> dict[int, tuple[str, Any]]:
        rc = task["runtime_context"]
        found: dict[int, tuple[str, Any]] = {}
        if task["id"] not in self.new_tasks:
            attempt = rc.get("attempt")
            if task["type"] == "WORKFLOW":
                for child in self.children_of(task):
                    crc = child.row.get("runtime_context") or {}
                    if states.is_completed(child.state):
                        value = child.row.get("output")
                        found[int(crc.get("index", 0))] = (child.state, value)
            else:
                for a in store.actions_of_task(self.conn, task["id"]):
                    a.update(self.action_updates.get(a["id"], {}))
                    arc = a.get("runtime_context") or {}
                    if arc.get("attempt") != attempt:
                        continue
                    if states.is_completed(a["state"]):
                        out = a.get("output") or {}
                        found[int(arc.get("index", 0))] = (a["state"], out.get("result"))
        found.update(self.item_results.get(task["id"], {}))
        return found

    def actions_done(self, wf: WfEx, task: dict[str, Any]) -> None:
        """Every item of the task ended: apply retry, else finish the task.

        As Mistral, `retry` applies to failures of the action or sub-workflow only. An error
        while the task is being started (an expression in `input`, `action`, `workflow`,
        `with-items`, `concurrency`, `wait-before`, `timeout`, `pause-before`; an input the
        action refuses; an unknown action) fails the task at once and is never retried:
        Mistral fails such a task before any action runs, so its retry policy never sees it.
        (Mistral then also fails the workflow outright; here the task's on-error / on-complete
        clauses still apply, as to any failed task.)
        """
        spec = wf.spec.tasks[task["name"]]
        rc = task["runtime_context"]
        wi = rc["wi"]
        results = self._results(wf, task)
        failed = bool(wi["failed"])
        if spec.with_items:
            result: Any = [results.get(i, (None, None))[1] for i in range(wi["count"])]
        else:
            result = results.get(0, (None, None))[1]
        info = wi.get("error")
        if spec.retry is not None and not wi.get("no_retry") and \
                self._should_retry(wf, task, spec, failed, result):
            return
        self.finalize(wf, task, states.ERROR if failed else states.SUCCESS, result, info)

    def _should_retry(
        self, wf: WfEx, task: dict[str, Any], spec: TaskNode, failed: bool, result: Any
    ) -> bool:
        retry = spec.retry
        assert retry is not None
        rc = task["runtime_context"]
        data = self.data(wf, task)
        ctx = self.ctx(wf, task, result)
        try:
            count = int(_number(evaluate(retry.count, data, ctx), "retry count"))
            delay = _number(evaluate(retry.delay, data, ctx), "retry delay")
            break_on = (
                evaluate_guard(retry.break_on, data, ctx) if retry.break_on is not None
                else False
            )
            cont = (
                evaluate_guard(retry.continue_on, data, ctx) if retry.continue_on is not None
                else None
            )
        except ExpressionFailure as exc:
            self.finalize(wf, task, states.ERROR, result, str(exc))
            return True
        done = int(rc.get("retry_no", 0))
        if not machine.retry_decision(done, count, failed, break_on, cont):
            return False
        rc["retry_no"] = done + 1
        self.set_task_state(wf, task, states.DELAYED, task.get("state_info"))
        if delay > 0 or rc["retry_no"] % 20 == 0:
            # (an immediate retry goes through the queue now and then, so that a long
            # run of instant failures cannot grow the stack without bound)
            self.timer(wf, task, "retry", delay)
        else:
            self.set_task_state(wf, task, states.RUNNING)
            self.launch(wf, task)
        return True

    def finalize(
        self, wf: WfEx, task: dict[str, Any], state: str, result: Any, info: str | None
    ) -> None:
        """fail-on, wait-after, publish, keep-result; then mark the task done."""
        spec = wf.spec.tasks[task["name"]]
        rc = task["runtime_context"]
        data = self.data(wf, task)
        ctx = self.ctx(wf, task, result)
        try:
            if (
                state == states.SUCCESS
                and spec.fail_on is not None
                and evaluate_guard(spec.fail_on, data, ctx)
            ):
                state = states.ERROR
                info = f"Failed by 'fail-on' condition: {spec.fail_on}"
            if spec.wait_after is not None and not rc.get("waited_after"):
                wait = _number(evaluate(spec.wait_after, data, ctx), "wait-after")
                if wait > 0:
                    rc["waited_after"] = True
                    rc["pending"] = {"state": state, "result": result, "info": info}
                    self.set_task_state(wf, task, states.DELAYED, info)
                    self.timer(wf, task, "wait_after", wait)
                    return
        except ExpressionFailure as exc:
            state, info = states.ERROR, str(exc)
        published: dict[str, Any] = {}
        global_vars: dict[str, Any] = {}
        try:
            published, global_vars = self._publish(spec, state, data, ctx)
        except ExpressionFailure as exc:
            if state == states.SUCCESS:
                state, info = states.ERROR, str(exc)
                try:
                    published, global_vars = self._publish(spec, state, data, ctx)
                except ExpressionFailure:
                    published, global_vars = {}, {}
            else:
                info = f"{info}; {exc}" if info else str(exc)
        task["published"] = published
        if global_vars:
            wf.row["context"] = machine.merge(wf.row.get("context") or {}, global_vars)
            self._touch_wf(wf)
        keep = True
        if spec.keep_result is not True:
            try:
                keep = evaluate_guard(spec.keep_result, data, ctx)
            except ExpressionFailure:
                keep = True
        task["result"] = result if keep else None
        task["processed"] = False
        rc.pop("items", None)
        self.set_task_state(wf, task, state, _short(info) if info else None)
        self.todo.append((wf, task))
        self.touched[wf.id] = wf

    @staticmethod
    def _publish(
        spec: TaskNode, state: str, data: dict[str, Any], ctx: TaskContext
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        branch: list[Any] = []
        glob: list[Any] = []
        clauses = machine.clauses_for(spec, state)
        if states.is_success_like(state):
            branch.append(spec.publish)
        elif state == states.ERROR:
            branch.append(spec.publish_on_error)
        for _, clause in clauses:
            branch.append(clause.publish)
            glob.append(clause.publish_global)
        published: dict[str, Any] = {}
        for part in branch:
            if part:
                published.update(evaluate(part, data, ctx))
        global_vars: dict[str, Any] = {}
        for part in glob:
            if part:
                global_vars.update(evaluate(part, data, ctx))
        return published, global_vars

    def on_timer(self, payload: Mapping[str, Any]) -> None:
        try:
            wf, task = self.task(str(payload["task_id"]))
        except NotFound:
            return
        rc = task["runtime_context"]
        what = str(payload.get("what"))
        if (rc.get("timers") or {}).get(what) != payload.get("token"):
            return
        if wf.state == states.PAUSED:
            rc.setdefault("deferred", []).append(dict(payload))
            self._touch_task(task)
            return
        if wf.state != states.RUNNING:
            return
        rc["timers"].pop(what, None)
        self._touch_task(task)
        if what == "wait_before" and task["state"] == states.DELAYED:
            self.run_task(wf, task)
        elif what == "retry" and task["state"] == states.DELAYED:
            self.set_task_state(wf, task, states.RUNNING)
            self.launch(wf, task)
        elif what == "wait_after" and task["state"] == states.DELAYED:
            pending = rc.pop("pending", None) or {}
            self.finalize(wf, task, pending.get("state", states.SUCCESS),
                          pending.get("result"), pending.get("info"))
        elif what == "timeout" and task["state"] in (states.RUNNING, states.DELAYED):
            self._time_out(wf, task)
        self.advance()

    def _time_out(self, wf: WfEx, task: dict[str, Any]) -> None:
        rc = task["runtime_context"]
        info = f"Task timed out [timeout(s)={rc.get('timeout')}]."
        self._stop_task_work(wf, task, states.ERROR, info)
        rc.get("timers", {}).clear()
        self.finalize(wf, task, states.ERROR, None, info)

    def _stop_task_work(self, wf: WfEx, task: dict[str, Any], state: str, info: str) -> None:
        """Mark the running actions / sub-workflows of a task as ended."""
        for a in list(self.new_actions.values()):
            if a["task_execution_id"] == task["id"] and a["state"] == states.RUNNING:
                a.update(state=state, state_info=info, updated_at=self.now)
        if task["id"] not in self.new_tasks:
            for a in store.running_actions_of_tasks(self.conn, [task["id"]]):
                self.action_updates.setdefault(a["id"], {}).update(
                    state=state, state_info=info, updated_at=self.now)
        for child in self.children_of(task):
            if not states.is_completed(child.state):
                if state == states.CANCELLED:
                    self.cancel(child, info, cascade_up=False)
                else:
                    self.fail(child, info, cascade_up=False)
