"""Operations asked of a running workflow: pause, resume, cancel, fail, succeed, and
re-run or skip of a failed task."""

from __future__ import annotations

from typing import Any

from levante.engine import states
from levante.engine.core.exceptions import InvalidStateTransition
from levante.engine.core.step.base import (
    StepBase,
    WfEx,
)
from levante.engine.store import executions as store


class Commands(StepBase):
    """Pause, resume, cancel, fail, succeed; re-run and skip of tasks."""

    def pause(self, wf: WfEx, cascade_up: bool = False, info: str | None = None) -> None:
        self.cascade(self._pause, wf, cascade_up, info)

    def _pause(self, wf: WfEx, cascade_up: bool, info: str | None) -> None:
        if wf.state == states.RUNNING:
            self.set_wf_state(wf, states.PAUSED, info)
            for t in wf.tasks:
                if t["type"] == "WORKFLOW" and t["state"] == states.RUNNING:
                    for child in self.children_of(t):
                        self.pause(child)
                    self.set_task_state(wf, t, states.PAUSED)
        if cascade_up:
            parent = self.parent_of(wf)
            if parent is not None:
                pwf, ptask = parent
                if ptask["state"] == states.RUNNING:
                    self.set_task_state(pwf, ptask, states.PAUSED)
                self.pause(pwf, cascade_up=True)

    def resume(self, wf: WfEx, cascade_up: bool = True) -> None:
        if wf.state == states.PAUSED:
            self.set_wf_state(wf, states.RUNNING)
            if not (wf.row.get("runtime_context") or {}).get("started"):
                self.start(wf)  # paused before its start job ran
            for t in list(wf.tasks):
                rc = t["runtime_context"]
                if t["type"] == "WORKFLOW" and t["state"] == states.PAUSED:
                    self.set_task_state(wf, t, states.RUNNING)
                    for child in self.children_of(t):
                        self.resume(child, cascade_up=False)
                elif t["state"] == states.IDLE and (
                    rc.get("paused_before") or rc.get("deferred_start")
                ):
                    self.run_task(wf, t)
                elif states.is_completed(t["state"]) and not t["processed"]:
                    self.todo.append((wf, t))
                for kind, name in rc.pop("after_pause", None) or []:
                    self._touch_task(t)
                    self._arrive(wf, name, t, kind, self._outbound(t))
                for payload in rc.pop("deferred", []) or []:
                    self.add_job(wf, "step", {**payload, "event": "timer"})
                    self._touch_task(t)
            self.touched[wf.id] = wf
        if cascade_up:
            parent = self.parent_of(wf)
            if parent is not None and parent[0].state == states.PAUSED:
                pwf, ptask = parent
                if ptask["state"] == states.PAUSED:
                    self.set_task_state(pwf, ptask, states.RUNNING)
                self.resume(pwf, cascade_up=True)
        self.advance()

    def _cancel_tasks(self, wf: WfEx, info: str | None) -> None:
        info = info or "Cancelled with its workflow"
        for t in wf.tasks:
            if not states.is_completed(t["state"]):
                self._stop_task_work(wf, t, states.CANCELLED, info)
                self.set_task_state(wf, t, states.CANCELLED, info)
                t["processed"] = True

    def cancel(self, wf: WfEx, info: str | None = None, cascade_up: bool = True) -> None:
        """Cancel a workflow, its tasks and sub-workflows; a cancelled sub-workflow cancels
        its task and then its parent ("Cancelled tasks: <names>"). Iterative (`cascade`)."""
        self.cascade(self._cancel, wf, info, cascade_up)

    def _cancel(self, wf: WfEx, info: str | None, cascade_up: bool) -> None:
        if states.is_completed(wf.state):
            return
        wf.row["output"] = {"result": info} if info else {}
        self.set_wf_state(wf, states.CANCELLED, info)
        self._cancel_tasks(wf, info)
        if cascade_up:
            parent = self.parent_of(wf)
            if parent is not None:
                pwf, ptask = parent
                if not states.is_completed(ptask["state"]):
                    self.set_task_state(pwf, ptask, states.CANCELLED, info)
                    ptask["processed"] = True
                self.cancel(pwf, f"Cancelled tasks: {ptask['name']}", cascade_up=True)

    def fail(self, wf: WfEx, info: str | None, cascade_up: bool = True) -> None:
        self.cascade(self._fail, wf, info, cascade_up)

    def _fail(self, wf: WfEx, info: str | None, cascade_up: bool) -> None:
        if states.is_completed(wf.state):
            return
        for t in wf.tasks:
            if t["type"] == "WORKFLOW" and not states.is_completed(t["state"]):
                for child in self.children_of(t):
                    self.fail(child, info, cascade_up=False)
        if cascade_up:
            self.finish(wf, states.ERROR, info)
        else:
            wf.row["output"] = {"result": info}
            self.set_wf_state(wf, states.ERROR, info)
        self.advance()

    def succeed(self, wf: WfEx, info: str | None) -> None:
        self.finish(wf, states.SUCCESS, info)
        self.advance()

    def reopen(self, wf: WfEx, event: str) -> None:
        """A workflow in ERROR runs again (rerun/skip), with its ancestors."""
        if wf.state in (states.ERROR, states.CANCELLED):
            self.set_wf_state(wf, states.RUNNING, None, event=event)
        parent = self.parent_of(wf)
        if parent is not None:
            pwf, ptask = parent
            if ptask["state"] in (states.ERROR, states.CANCELLED):
                ptask["runtime_context"].setdefault("wi", {"count": 1, "conc": 0, "next": 1,
                                                          "running": 0, "failed": False})
                wi = ptask["runtime_context"]["wi"]
                wi["running"] = int(wi.get("running", 0)) + 1
                wi["failed"] = False
                wi["error"] = None
                ptask["processed"] = False
                self.set_task_state(pwf, ptask, states.RUNNING, None, event="TASK_RERUN")
            self.reopen(pwf, event)

    def rerun(self, wf: WfEx, task: dict[str, Any], reset: bool) -> None:
        rc = task["runtime_context"]
        if task["state"] != states.ERROR:
            raise InvalidStateTransition(
                f"Task execution {task['id']} is in state {task['state']}; only a task in "
                "ERROR can be re-run"
            )
        spec = wf.spec.tasks[task["name"]]
        keep: list[int] = []
        if not reset and spec.with_items:
            results = self._results(wf, task)
            keep = sorted(i for i, (st, _) in results.items() if st == states.SUCCESS)
            # carry the kept results into the next attempt
            next_attempt = int(rc.get("attempt", 0)) + 1
            for a in store.actions_of_task(self.conn, task["id"]):
                arc = dict(a.get("runtime_context") or {})
                if arc.get("attempt") == rc.get("attempt") and int(arc.get("index", 0)) in keep \
                        and a["state"] == states.SUCCESS:
                    arc["attempt"] = next_attempt
                    self.action_updates[a["id"]] = {"runtime_context": arc}
        self.reopen(wf, "WORKFLOW_RERUN")
        rc["keep_items"] = keep
        rc["retry_no"] = 0
        rc.pop("waited_after", None)
        rc.pop("pending", None)
        task["processed"] = False
        task["published"] = {}
        task["result"] = None
        task["finished_at"] = None
        self.set_task_state(wf, task, states.RUNNING, None, event="TASK_RERUN")
        self.launch(wf, task)
        self.advance()

    def skip(self, wf: WfEx, task: dict[str, Any]) -> None:
        if task["state"] != states.ERROR:
            raise InvalidStateTransition(
                f"Task execution {task['id']} is in state {task['state']}; only a task in "
                "ERROR can be skipped"
            )
        self.reopen(wf, "WORKFLOW_RERUN")
        task["processed"] = False
        task["published"] = {}
        self.set_task_state(wf, task, states.SKIPPED, None)
        self.todo.append((wf, task))
        self.touched[wf.id] = wf
        self.advance()
