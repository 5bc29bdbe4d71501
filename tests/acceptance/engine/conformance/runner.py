"""Runs one conformance case through the engine's HTTP API and checks what it ended as.

`expect` (and a `check` step) may hold:
  create_status / create_error   the execution create must answer this status (and the
                                 faultstring hold these substrings); nothing else is checked
  state, state_info              workflow state; state_info substrings (a string or a list)
  output, output_contains        workflow output, exactly or as a recursive subset
  output_keys, output_result     the exact keys of the output; substrings of output.result
  tasks                          {name: STATE} or {name: {state, state_info, published,
                                 published_contains, result, count}}; the set of task
                                 names that ran must be exactly these keys
  children                       {workflow name: STATE} of the sub-workflow executions
  deleted: true                  a `delete` step deleted the execution (GET answers 404)

`steps` is a list of one-key operations, run in order after the execution is created:
  wait_state: STATE                  poll GET /v2/executions/<id> until it is in STATE
  wait_task: {task, state}           poll the execution's tasks until that task is in state
  set_state: STATE                   PUT /v2/executions/<id> (optional `state_info` beside)
  rerun: NAME | {task, reset, env}   PUT /v2/tasks/<id> state RUNNING (the task in ERROR)
  skip_task: NAME                    PUT /v2/tasks/<id> state SKIPPED
  complete_action: {task, output, state}  PUT /v2/action_executions/<id> of its running action
  sleep: SECONDS
  delete: {force, status, error}     DELETE /v2/executions/<id>; expect status (and faultstring)
  check: {...}                       the keys of `expect`, checked now
`wait_task`, `complete_action` and `set_state` take `child: <workflow name>` to act on a
sub-workflow execution instead.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx

from tests.acceptance.engine.conformance.casefile import Case

FINAL = {"SUCCESS", "ERROR", "CANCELLED"}
POLL = 0.01
WAIT_SECONDS = 20.0
STEP_KINDS = ("wait_state", "wait_task", "set_state", "rerun", "skip_task", "complete_action",
              "sleep", "check", "delete")


class CaseFailure(AssertionError):
    pass


def substitute(value: Any, subs: dict[str, str]) -> Any:
    if isinstance(value, str):
        for token, text in subs.items():
            value = value.replace(token, text)
        return value
    if isinstance(value, list):
        return [substitute(v, subs) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, subs) for k, v in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _subset(v, actual[k]) for k, v in expected.items()
        )
    return bool(expected == actual)


def _substrings(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


class CaseRun:
    """The HTTP conversation of one case with one engine."""

    def __init__(self, client: httpx.Client, case: Case, http_base: str) -> None:
        self.client = client
        self.case = case
        run_token = f"{case.id}-{uuid.uuid4().hex[:8]}"
        self.data: dict[str, Any] = substitute(case.data, {"@HTTP@": http_base,
                                                             "@RUN@": run_token})
        self.execution_id: str | None = None
        self.deleted = False

    # --- HTTP -------------------------------------------------------------------------------

    def _ok(self, response: httpx.Response, *codes: int) -> Any:
        if response.status_code not in codes:
            raise CaseFailure(
                f"{response.request.method} {response.request.url.path} answered "
                f"{response.status_code}: {response.text[:2000]}"
            )
        return response.json() if response.content else None

    def define(self) -> None:
        for env in self.data.get("environments") or []:
            body = {"name": env["name"], "variables": json.dumps(env["variables"])}
            self._ok(self.client.post("/environments", json=body), 201)
        for key, path in (("actions", "/actions"), ("workflows", "/workflows"),
                          ("workbook", "/workbooks")):
            if key in self.data:
                self._ok(self.client.post(path, content=self.data[key],
                                          headers={"Content-Type": "text/plain"}), 201)

    def start(self) -> dict[str, Any] | None:
        """Create the execution; None when the case expects the create to be refused."""
        run = self.data["run"]
        body: dict[str, Any] = {"workflow_name": run["workflow"]}
        if "input" in run:
            body["input"] = json.dumps(run["input"])
        if "params" in run:
            body["params"] = json.dumps(run["params"])
        response = self.client.post("/executions", json=body)
        expect = self.data["expect"]
        if "create_status" in expect:
            if response.status_code != expect["create_status"]:
                raise CaseFailure(f"execution create answered {response.status_code}, "
                                  f"expected {expect['create_status']}: {response.text}")
            fault = str(response.json().get("faultstring", ""))
            for part in _substrings(expect.get("create_error")):
                if part not in fault:
                    raise CaseFailure(f"faultstring {fault!r} lacks {part!r}")
            return None
        execution: dict[str, Any] = self._ok(response, 201)
        self.execution_id = str(execution["id"])
        return execution

    def execution(self) -> dict[str, Any]:
        result: dict[str, Any] = self._ok(self.client.get(f"/executions/{self.execution_id}"),
                                          200)
        return result

    def child_id(self, child: str) -> str:
        found = [c for c in self.children() if c["workflow_name"] == child]
        if not found:
            raise CaseFailure(f"no sub-workflow execution of {child}: {self.describe()}")
        return str(found[-1]["id"])

    def tasks(self, child: str | None = None) -> list[dict[str, Any]]:
        """Tasks of the execution, or of its sub-workflow execution of workflow `child`."""
        ident = self.execution_id
        if child is not None:
            if not any(c["workflow_name"] == child for c in self.children()):
                return []
            ident = self.child_id(child)
        data = self._ok(self.client.get(f"/executions/{ident}/tasks"), 200)
        return list(data["tasks"])

    def children(self) -> list[dict[str, Any]]:
        data = self._ok(self.client.get(f"/executions/{self.execution_id}/executions"), 200)
        return [e for e in data["executions"] if e["id"] != self.execution_id]

    # --- waiting ----------------------------------------------------------------------------

    def wait_state(self, wanted: set[str]) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            execution = self.execution()
            if execution["state"] in wanted:
                return execution
            if time.monotonic() > deadline:
                raise CaseFailure(f"execution stayed {execution['state']} "
                                  f"(wanted {sorted(wanted)}): {self.describe()}")
            time.sleep(POLL)

    def wait_task(self, name: str, state: str, child: str | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            for task in self.tasks(child):
                if task["name"] == name and task["state"] == state:
                    return task
            if time.monotonic() > deadline:
                raise CaseFailure(f"task {name} never reached {state}: {self.describe()}")
            time.sleep(POLL)

    def task_named(self, name: str) -> dict[str, Any]:
        found = [t for t in self.tasks() if t["name"] == name]
        if not found:
            raise CaseFailure(f"no task {name}: {self.describe()}")
        errors = [t for t in found if t["state"] == "ERROR"]
        return (errors or found)[-1]

    # --- steps ------------------------------------------------------------------------------

    def step(self, step: dict[str, Any]) -> None:
        kinds = [k for k in step if k in STEP_KINDS]
        if len(kinds) != 1:
            raise ValueError(f"case {self.case.id}: a step needs one of {STEP_KINDS}: {step}")
        kind = kinds[0]
        arg = step[kind]
        if kind == "wait_state":
            self.wait_state({arg})
        elif kind == "wait_task":
            self.wait_task(arg["task"], arg["state"], arg.get("child"))
        elif kind == "set_state":
            body = {"state": arg}
            if "state_info" in step:
                body["state_info"] = step["state_info"]
            ident = self.execution_id
            if "child" in step:
                ident = self.child_id(step["child"])
            self._ok(self.client.put(f"/executions/{ident}", json=body), 200)
        elif kind == "rerun":
            arg = {"task": arg} if isinstance(arg, str) else arg
            task = self.task_named(arg["task"])
            body = {"state": "RUNNING", "reset": arg.get("reset", True)}
            if "env" in arg:
                body["env"] = json.dumps(arg["env"])
            self._ok(self.client.put(f"/tasks/{task['id']}", json=body), 200)
        elif kind == "skip_task":
            task = self.task_named(arg)
            self._ok(self.client.put(f"/tasks/{task['id']}", json={"state": "SKIPPED"}), 200)
        elif kind == "complete_action":
            self.complete_action(arg)
        elif kind == "sleep":
            time.sleep(float(arg))
        elif kind == "delete":
            self.delete(arg)
        else:
            self.check(arg)

    def delete(self, arg: dict[str, Any]) -> None:
        """DELETE the execution (`force`), expecting `status` and `error` in the fault."""
        params = {"force": "true"} if arg.get("force") else None
        response = self.client.delete(f"/executions/{self.execution_id}", params=params)
        if response.status_code != arg.get("status", 204):
            raise CaseFailure(f"DELETE answered {response.status_code}, expected "
                              f"{arg.get('status', 204)}: {response.text}")
        if response.status_code == 204:
            self.deleted = True
            return
        fault = str(response.json().get("faultstring", ""))
        for part in _substrings(arg.get("error")):
            if part not in fault:
                raise CaseFailure(f"faultstring {fault!r} lacks {part!r}")

    def complete_action(self, arg: dict[str, Any]) -> None:
        """Report an asynchronous action's result (PUT /v2/action_executions/<id>)."""
        task = self.wait_task(arg["task"], "RUNNING", arg.get("child"))
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            data = self._ok(self.client.get(f"/tasks/{task['id']}/action_executions"), 200)
            running = [a for a in data["action_executions"] if a["state"] == "RUNNING"]
            if running:
                break
            if time.monotonic() > deadline:
                raise CaseFailure(f"task {arg['task']} has no running action: {self.describe()}")
            time.sleep(POLL)
        body = {"state": arg.get("state", "SUCCESS"), "output": json.dumps(arg.get("output"))}
        self._ok(self.client.put(f"/action_executions/{running[0]['id']}", json=body), 200)

    # --- checking ---------------------------------------------------------------------------

    def describe(self) -> str:
        """The execution and its tasks, for a failure message."""
        try:
            execution = self.execution()
            tasks = self.tasks()
        except (httpx.HTTPError, CaseFailure) as exc:
            return f"(could not read the execution: {exc})"
        lines = [f"execution {execution['state']} state_info={execution.get('state_info')!r} "
                 f"output={execution.get('output')}"]
        for t in tasks:
            lines.append(f"  task {t['name']}: {t['state']} published={t.get('published')} "
                         f"state_info={t.get('state_info')!r} result={t.get('result')}")
        return "\n".join(lines)

    def check(self, expect: dict[str, Any]) -> None:
        execution = self.execution()
        problems: list[str] = []
        if "state" in expect and execution["state"] != expect["state"]:
            problems.append(f"state {execution['state']} != {expect['state']}")
        info = str(execution.get("state_info") or "")
        for part in _substrings(expect.get("state_info")):
            if part not in info:
                problems.append(f"state_info {info!r} lacks {part!r}")
        output = _decode(execution.get("output"))
        if "output" in expect and output != expect["output"]:
            problems.append(f"output {output!r} != {expect['output']!r}")
        if "output_contains" in expect and not _subset(expect["output_contains"], output):
            problems.append(f"output {output!r} does not contain {expect['output_contains']!r}")
        if "output_keys" in expect and (
            not isinstance(output, dict) or set(output) != set(expect["output_keys"])
        ):
            problems.append(f"output {output!r} keys != {sorted(expect['output_keys'])}")
        result_text = str(output.get("result", "")) if isinstance(output, dict) else ""
        for part in _substrings(expect.get("output_result")):
            if part not in result_text:
                problems.append(f"output.result {result_text!r} lacks {part!r}")
        if "tasks" in expect:
            problems += self._check_tasks(expect["tasks"], self.tasks())
        if "children" in expect:
            got = {c["workflow_name"]: c["state"] for c in self.children()}
            if got != expect["children"]:
                problems.append(f"sub-workflows {got} != {expect['children']}")
        if problems:
            raise CaseFailure("; ".join(problems) + "\n" + self.describe())

    @staticmethod
    def _check_tasks(expected: dict[str, Any], tasks: list[dict[str, Any]]) -> list[str]:
        problems: list[str] = []
        by_name: dict[str, list[dict[str, Any]]] = {}
        for t in tasks:
            by_name.setdefault(t["name"], []).append(t)
        if set(by_name) != set(expected):
            problems.append(f"tasks that ran {sorted(by_name)} != {sorted(expected)}")
        for name, want in expected.items():
            want = {"state": want} if isinstance(want, str) else dict(want)
            runs = by_name.get(name, [])
            if not runs:
                continue
            if "count" in want and len(runs) != want["count"]:
                problems.append(f"task {name} ran {len(runs)} times, expected {want['count']}")
            task = runs[-1]
            if "state" in want and task["state"] != want["state"]:
                problems.append(f"task {name} state {task['state']} != {want['state']}")
            info = str(task.get("state_info") or "")
            for part in _substrings(want.get("state_info")):
                if part not in info:
                    problems.append(f"task {name} state_info {info!r} lacks {part!r}")
            published = _decode(task.get("published"))
            if "published" in want and published != want["published"]:
                problems.append(f"task {name} published {published!r} != {want['published']!r}")
            if "published_contains" in want and not _subset(want["published_contains"],
                                                            published):
                problems.append(f"task {name} published {published!r} does not contain "
                                f"{want['published_contains']!r}")
            result = _decode(task.get("result"))
            if "result" in want and result != want["result"]:
                problems.append(f"task {name} result {result!r} != {want['result']!r}")
        return problems

    # --- the whole case ---------------------------------------------------------------------

    def run(self) -> None:
        self.define()
        if self.start() is None:
            return
        for step in self.data.get("steps") or []:
            self.step(step)
        expect = self.data["expect"]
        if self.deleted or expect.get("deleted"):
            gone = self.client.get(f"/executions/{self.execution_id}")
            if not (self.deleted and expect.get("deleted") and gone.status_code == 404):
                raise CaseFailure(f"deleted={self.deleted}, expected {expect.get('deleted')}; "
                                  f"GET answered {gone.status_code}")
            return
        wanted = set(FINAL)
        if "state" in expect:
            wanted.add(expect["state"])
        self.wait_state(wanted)
        self.check(expect)

    def cleanup(self) -> None:
        """Cancel an execution a failed case left running, so it loads nobody."""
        if self.execution_id is None or self.deleted:
            return
        try:
            if self.execution()["state"] not in FINAL:
                self.client.put(f"/executions/{self.execution_id}",
                                json={"state": "CANCELLED"})
        except (httpx.HTTPError, CaseFailure):
            pass
