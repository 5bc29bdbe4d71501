"""Executions, tasks and action executions through the Mistral v2 API, over real HTTP,
with the engine's workers running (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from tests.integration.engine.api.conftest import Api, has_engine_role

pytestmark = pytest.mark.skipif(not has_engine_role(),
                                reason="levante.engine.service is not built yet")

TEXT = {"content-type": "text/plain"}
WORKFLOWS = """---
version: '2.0'

hello:
  input:
    - name
    - greeting: Hello
  output:
    message: <% $.message %>
  tasks:
    greet:
      action: std.echo output="<% $.greeting %>, <% $.name %>"
      publish:
        message: <% task().result %>

parent:
  tasks:
    child:
      workflow: hello name=child
      publish:
        got: <% task().result.message %>

waiting:
  tasks:
    wait:
      action: std.async_noop
"""


@pytest.fixture
def wf(api: Api) -> dict[str, str]:
    created = api.client.post("/workflows", content=WORKFLOWS, headers=TEXT)
    assert created.status_code == 201, created.text
    return {w["name"]: w["id"] for w in created.json()["workflows"]}


def _wait(api: Api, ex_id: str, states: set[str], seconds: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = api.client.get(f"/executions/{ex_id}").json()
        if body.get("state") in states:
            return body
        time.sleep(0.05)
    raise AssertionError(f"execution {ex_id} is {body.get('state')}, expected {states}")


def _fault(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == status
    return str(body["faultstring"])


def test_run_a_workflow_and_read_everything(api: Api, wf: dict[str, str]) -> None:
    created = api.client.post("/executions", json={
        "workflow_name": "hello", "input": json.dumps({"name": "Ada"}),
        "params": {"env": {"k": "v"}}, "description": "first",
    })
    assert created.status_code == 201, created.text
    ex = created.json()
    assert ex["workflow_id"] == wf["hello"] and ex["description"] == "first"
    assert isinstance(ex["input"], str) and json.loads(ex["input"])["name"] == "Ada"
    done = _wait(api, ex["id"], {"SUCCESS", "ERROR"})
    assert done["state"] == "SUCCESS", done
    assert json.loads(done["output"]) == {"message": "Hello, Ada"}
    assert json.loads(done["params"])["env"] == {"k": "v"}

    listed = api.client.get("/executions", params={"workflow_name": "hello"}).json()
    assert [e["id"] for e in listed["executions"]] == [ex["id"]]
    assert "output" not in listed["executions"][0]
    with_output = api.client.get("/executions", params={"include_output": "true"}).json()
    assert "output" in with_output["executions"][0]

    tasks = api.client.get(f"/executions/{ex['id']}/tasks").json()["tasks"]
    assert [(t["name"], t["state"]) for t in tasks] == [("greet", "SUCCESS")]
    task = api.client.get(f"/tasks/{tasks[0]['id']}").json()
    assert json.loads(task["result"]) == "Hello, Ada"
    assert json.loads(task["published"]) == {"message": "Hello, Ada"}
    assert task["workflow_execution_id"] == ex["id"]
    assert api.client.get("/tasks", params={"workflow_execution_id": ex["id"]}).json()[
        "tasks"][0]["id"] == task["id"]

    actions = api.client.get(f"/tasks/{task['id']}/action_executions").json()
    assert [(a["name"], a["task_name"], a["state"]) for a in actions["action_executions"]] \
        == [("std.echo", "greet", "SUCCESS")]

    report = api.client.get(f"/executions/{ex['id']}/report").json()
    assert report["statistics"]["success_tasks_count"] == 1
    assert report["root_workflow_execution"]["task_executions"][0]["name"] == "greet"

    assert api.client.delete(f"/executions/{ex['id']}").status_code == 204
    _fault(api.client.get(f"/executions/{ex['id']}"), 404)


def test_client_given_id_is_idempotent(api: Api, wf: dict[str, str]) -> None:
    ex_id = str(uuid.uuid4())
    body = {"id": ex_id, "workflow_id": wf["hello"], "input": {"name": "x"}}
    first = api.client.post("/executions", json=body)
    second = api.client.post("/executions", json=body)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"] == ex_id
    listed = api.client.get("/executions").json()["executions"]
    assert [e["id"] for e in listed] == [ex_id]


def test_sub_workflows(api: Api, wf: dict[str, str]) -> None:
    ex = api.client.post("/executions", json={"workflow_name": "parent"}).json()
    assert _wait(api, ex["id"], {"SUCCESS", "ERROR"})["state"] == "SUCCESS"
    family = api.client.get(f"/executions/{ex['id']}/executions").json()["executions"]
    assert [e["workflow_name"] for e in family] == ["parent", "hello"]
    child = family[1]
    assert child["root_execution_id"] == ex["id"]
    assert child["task_execution_id"] is not None
    task_children = api.client.get(f"/tasks/{child['task_execution_id']}/executions").json()
    assert [e["id"] for e in task_children["executions"]] == [child["id"]]
    roots = api.client.get("/executions", params={"task_execution_id": "null"}).json()
    assert [e["id"] for e in roots["executions"]] == [ex["id"]]


def test_pause_resume_cancel_and_async_result(api: Api, wf: dict[str, str]) -> None:
    ex = api.client.post("/executions", json={"workflow_name": "waiting"}).json()
    assert ex["state"] == "RUNNING"
    paused = api.client.put(f"/executions/{ex['id']}", json={"state": "PAUSED"})
    assert paused.status_code == 200 and paused.json()["state"] == "PAUSED"
    resumed = api.client.put(f"/executions/{ex['id']}", json={"state": "RUNNING"})
    assert resumed.json()["state"] == "RUNNING"
    described = api.client.put(f"/executions/{ex['id']}", json={"description": "new"})
    assert described.json()["description"] == "new"

    deadline = time.monotonic() + 10
    actions: list[dict[str, Any]] = []
    while not actions and time.monotonic() < deadline:
        actions = api.client.get("/action_executions",
                                 params={"name": "std.async_noop"}).json()["action_executions"]
        time.sleep(0.05)
    assert actions, "the async action never started"
    reported = api.client.put(f"/action_executions/{actions[0]['id']}",
                              json={"state": "SUCCESS", "output": '{"result": 7}'})
    assert reported.status_code == 200, reported.text
    assert _wait(api, ex["id"], {"SUCCESS", "ERROR"})["state"] == "SUCCESS"

    other = api.client.post("/executions", json={"workflow_name": "waiting"}).json()
    cancelled = api.client.put(f"/executions/{other['id']}", json={"state": "CANCELLED"})
    assert cancelled.status_code == 200
    assert _wait(api, other["id"], {"CANCELLED"})["state"] == "CANCELLED"
    again = api.client.put(f"/executions/{other['id']}", json={"state": "RUNNING"})
    _fault(again, 400)


def test_run_an_action_alone(api: Api) -> None:
    ran = api.client.post("/action_executions",
                          json={"name": "std.echo", "input": '{"output": "ping"}'})
    assert ran.status_code == 201, ran.text
    assert json.loads(ran.json()["output"]) == {"result": "ping"}
    assert ran.json()["state"] == "SUCCESS"
    got = api.client.get(f"/action_executions/{ran.json()['id']}").json()
    assert got["name"] == "std.echo"
    _fault(api.client.post("/action_executions", json={"name": "std.nope"}), 404)
    _fault(api.client.post("/action_executions",
                           json={"name": "std.echo", "input": {"bogus": 1}}), 400)


def test_bad_requests(api: Api, wf: dict[str, str]) -> None:
    assert "nope" in _fault(api.client.post("/executions", json={"workflow_name": "nope"}), 404)
    assert "name" in _fault(api.client.post("/executions", json={"workflow_name": "hello"}),
                            400)
    _fault(api.client.post("/executions", json={"workflow_name": "hello", "input": "{bad"}),
           400)
    _fault(api.client.post("/executions", json={"workflow_name": "hello", "input": "[1]"}),
           400)
    _fault(api.client.post("/executions", json={}), 400)
    _fault(api.client.post("/executions", content=b"not json"), 400)
    _fault(api.client.post("/executions", json={"workflow_name": 5}), 400)
    _fault(api.client.put(f"/executions/{uuid.uuid4()}", json={"state": "PAUSED"}), 404)
    ex = api.client.post("/executions",
                         json={"workflow_name": "hello", "input": {"name": "a"}}).json()
    _fault(api.client.put(f"/executions/{ex['id']}", json={"state": "BOGUS"}), 400)
    _fault(api.client.put(f"/executions/{ex['id']}", json={}), 400)
    _fault(api.client.put(f"/tasks/{uuid.uuid4()}", json={"state": "RUNNING"}), 404)
    _fault(api.client.post("/executions", json={
        "workflow_name": "hello", "input": {"name": "a"}, "params": {"env": "missing-env"}}),
        400)


def test_rerun_and_skip_a_failed_task(api: Api) -> None:
    text = ("version: '2.0'\nflaky:\n  tasks:\n    boom:\n      action: std.fail\n"
            "      on-success: [after]\n    after:\n      action: std.noop\n")
    assert api.client.post("/workflows", content=text, headers=TEXT).status_code == 201
    ex = api.client.post("/executions", json={"workflow_name": "flaky"}).json()
    assert _wait(api, ex["id"], {"ERROR", "SUCCESS"})["state"] == "ERROR"
    [task] = api.client.get(f"/executions/{ex['id']}/tasks").json()["tasks"]
    assert task["state"] == "ERROR"

    rerun = api.client.put(f"/tasks/{task['id']}",
                           json={"id": task["id"], "state": "RUNNING", "reset": True})
    assert rerun.status_code == 200, rerun.text
    assert _wait(api, ex["id"], {"ERROR", "SUCCESS"})["state"] == "ERROR"
    _fault(api.client.put(f"/tasks/{task['id']}", json={"state": "RUNNING", "reset": "x"}),
           400)
    _fault(api.client.put(f"/tasks/{task['id']}", json={"state": "PAUSED"}), 400)

    skipped = api.client.put(f"/tasks/{task['id']}", json={"state": "SKIPPED"})
    assert skipped.status_code == 200, skipped.text
    assert skipped.json()["state"] == "SKIPPED"
    assert _wait(api, ex["id"], {"ERROR", "SUCCESS"})["state"] == "SUCCESS"
    names = {t["name"]: t["state"] for t in
             api.client.get(f"/executions/{ex['id']}/tasks").json()["tasks"]}
    assert names == {"boom": "SKIPPED", "after": "SUCCESS"}
