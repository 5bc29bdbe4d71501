"""Bad text and structure limits on the engine API (issue 9, points 4 and 5), over real
HTTP with the engine's workers running, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from levante.db.connect import make_engine
from levante.engine.core.runtime import EngineRuntime
from levante.identity.keys import create_api_key
from tests.integration.engine.api.conftest import Api, has_engine_role, serve_role

pytestmark = pytest.mark.skipif(not has_engine_role(),
                                reason="levante.engine.service is not built yet")

TEXT = {"content-type": "text/plain"}
WORKFLOWS = """---
version: '2.0'

echo:
  input:
    - value: x
  tasks:
    say:
      action: std.echo output=<% $.value %>

waiting:
  tasks:
    wait:
      action: std.async_noop

itself:
  tasks:
    again:
      workflow: itself
"""


@pytest.fixture
def limited(migrated_url: str) -> Iterator[Api]:
    """The engine role with `[engine] max_nesting_depth = 5`."""
    engine = make_engine(migrated_url)
    key, _row = create_api_key(engine, "limits-tester")
    try:
        for url in serve_role(engine, migrated_url, {("engine", "max_nesting_depth"): 5}):
            with httpx.Client(base_url=url + "/v2", timeout=30,
                              headers={"X-Auth-Token": key}) as client:
                created = client.post("/workflows", content=WORKFLOWS, headers=TEXT)
                assert created.status_code == 201, created.text
                yield Api(url, client, engine, key)
    finally:
        engine.dispose()


def _fault(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["faultstring"])


def _wait(api: Api, ex_id: str, states: set[str], seconds: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = api.client.get(f"/executions/{ex_id}").json()
        if body.get("state") in states:
            return body
        time.sleep(0.05)
    raise AssertionError(f"execution {ex_id} is {body.get('state')}, expected {states}")


def _listings_answer(api: Api) -> None:
    for path in ("/executions", "/tasks", "/action_executions", "/workflows"):
        listed = api.client.get(path)
        assert listed.status_code == 200, (path, listed.text)


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_bad_text_is_refused_naming_the_field(limited: Api) -> None:
    api = limited
    client = api.client
    cases: list[tuple[str, str, str]] = [
        # (route, raw JSON body, the field named in the answer)
        ("/executions", '{"workflow_name": "echo", "input": {"value": "a\\ud800"}}',
         "input.value"),
        ("/executions", '{"workflow_name": "echo", "input": {"value": "a\\u0000b"}}',
         "input.value"),
        ("/executions", '{"workflow_name": "echo", "input": "{\\"value\\": \\"\\\\udc00\\"}"}',
         "input.value"),
        ("/executions", '{"workflow_name": "echo\\ud800"}', "workflow_name"),
        ("/executions", '{"workflow_name": "echo", "params": {"env": {"k\\u0000": 1}}}',
         'params.env."k\\u0000"'),
        ("/executions", '{"workflow_name": "echo", "description": "\\udfff"}', "description"),
        ("/action_executions", '{"name": "std.echo", "input": {"output": ["\\ud800"]}}',
         "input.output[0]"),
        ("/environments", '{"name": "e\\u0000", "variables": {}}', "name"),
    ]
    for route, body, field in cases:
        answer = client.post(route, content=body,
                             headers={"content-type": "application/json"})
        message = _fault(answer)
        assert f"'{field}'" in message, (body, message)
    # Definitions: a NUL or a lone surrogate made by a YAML escape, in a name or a value.
    for text in ('---\nversion: "2.0"\n"bad\\0name":\n  tasks:\n    t:\n      action: std.noop\n',
                 '---\nversion: "2.0"\nw:\n  tasks:\n    t:\n      action: std.echo\n'
                 '      input:\n        output: "\\ud800"\n'):
        message = _fault(client.post("/workflows", content=text, headers=TEXT))
        assert "field 'w.tasks.t.input.output'" in message or "bad" in message, message
    _listings_answer(api)
    # The same values that are fine once escaped are kept as they are.
    ok = client.post("/executions", json={"workflow_name": "echo",
                                          "input": {"value": "snow ☃ \\u0000"}})
    assert ok.status_code == 201, ok.text
    done = _wait(api, ok.json()["id"], {"SUCCESS"})
    assert '"snow \\u2603 \\\\u0000"' in done["input"] or "☃" in done["input"]
    _listings_answer(api)


def test_bad_text_stored_before_does_not_break_listings(limited: Api) -> None:
    """Values stored without these checks (by an earlier version, or made by a workflow)
    are still answered: a lone surrogate as its escape, a NUL as \\u0000."""
    row = EngineRuntime(limited.engine).start_workflow(workflow_identifier="echo",
                                                      input={"value": "lone \ud800 and a\x00b"})
    done = _wait(limited, row["id"], {"SUCCESS"})
    assert json.loads(done["input"]) == {"value": "lone \ud800 and a\x00b"}
    _listings_answer(limited)
    tasks = limited.client.get("/tasks", params={"workflow_execution_id": row["id"]})
    assert tasks.status_code == 200
    listed = limited.client.get("/executions", params={"include_output": "true"})
    assert listed.status_code == 200


def test_deep_json_gets_a_400_on_every_body(limited: Api) -> None:
    client = limited.client
    started = client.post("/executions", json={"workflow_name": "waiting"})
    assert started.status_code == 201, started.text
    ex_id = started.json()["id"]
    deadline = time.monotonic() + 20
    actions: list[dict[str, Any]] = []
    while not actions and time.monotonic() < deadline:
        actions = client.get("/action_executions",
                             params={"workflow_execution_id": ex_id}).json()["action_executions"]
        time.sleep(0.05)
    assert actions, "the async action did not start"
    action_id = actions[0]["id"]
    for levels in (150, 5000, 200_000):
        deep = _deep(levels)
        bodies = [
            ("POST", "/executions", '{"workflow_name": "echo", "input": {"value": ' + deep + "}}"),
            ("POST", "/executions", '{"workflow_name": "echo", "input": "{\\"value\\": '
             + deep + '}"}'),
            ("PUT", f"/action_executions/{action_id}",
             '{"state": "SUCCESS", "output": ' + deep + "}"),
            ("POST", "/action_executions", '{"name": "std.echo", "input": ' + deep + "}"),
            ("PUT", f"/executions/{ex_id}", '{"state": "PAUSED", "params": ' + deep + "}"),
        ]
        for method, path, body in bodies:
            answer = client.request(method, path, content=body,
                                    headers={"content-type": "application/json"})
            message = _fault(answer)
            assert "nested more than 100 levels deep" in message, (path, message)
    # Shallower is fine; an action's output is kept as it was made, NUL characters
    # included (the platform reports a child's stdout as it came).
    fine = client.put(f"/action_executions/{action_id}",
                      json={"state": "SUCCESS", "output": {"v": [[[]]], "out": "a\x00b"}})
    assert fine.status_code == 200, fine.text
    _wait(limited, ex_id, {"SUCCESS"})
    got = client.get(f"/action_executions/{action_id}").json()
    assert json.loads(got["output"]) == {"result": {"v": [[[]]], "out": "a\x00b"}} or \
        json.loads(got["output"]) == {"v": [[[]]], "out": "a\x00b"}, got["output"]
    _listings_answer(limited)


def test_execution_ids_must_be_uuids(limited: Api) -> None:
    client = limited.client
    for path in ("/executions/nope", "/executions/x..y", "/tasks/1",
                 "/action_executions/x", "/executions/nope/tasks"):
        message = _fault(client.get(path))
        assert "execution ids are UUIDs" in message, message
    assert _fault(client.put("/executions/nope", json={"state": "PAUSED"}))
    assert _fault(client.delete("/executions/nope"))
    message = _fault(client.post("/executions", json={"workflow_name": "echo",
                                                      "id": "../etc"}))
    assert "'id'" in message
    message = _fault(client.post("/executions", json={"workflow_name": "echo",
                                                      "source_execution_id": "x"}))
    assert "'source_execution_id'" in message
    # A UUID that exists nowhere is still a 404, and a client's UUID is taken.
    assert client.get(f"/executions/{uuid.uuid4()}").status_code == 404
    given = str(uuid.uuid4())
    made = client.post("/executions", json={"workflow_name": "echo", "id": given})
    assert made.status_code == 201 and made.json()["id"] == given


def test_a_workflow_that_starts_itself_stops_at_the_nesting_limit(limited: Api) -> None:
    client = limited.client
    started = client.post("/executions", json={"workflow_name": "itself"})
    assert started.status_code == 201, started.text
    root = _wait(limited, started.json()["id"], {"ERROR"})
    assert "max_nesting_depth" in root["state_info"] or "max_nesting_depth" in str(
        root.get("output")), root
    tree = client.get(f"/executions/{root['id']}/executions").json()["executions"]
    assert len(tree) == 5  # the root and 4 sub-workflows: 5 levels
    deepest = [e for e in tree if "would be nested 6 workflows deep" in (e["state_info"] or "")]
    assert deepest, [e["state_info"] for e in tree]
    assert all(e["state"] == "ERROR" for e in tree)


DEEP = """---
version: '2.0'

deep:
  input:
    - level: 1
    - bottom: 10
  tasks:
    down:
      workflow: <% switch($.level >= $.bottom => 'deepest', true => 'deep') %>
      input:
        level: <% $.level + 1 %>
        bottom: <% $.bottom %>

deepest:
  input: [level, bottom]
  tasks:
    wait:
      action: std.async_noop
"""


@pytest.fixture
def unlimited(migrated_url: str) -> Iterator[Api]:
    """The engine role with a nesting limit high enough for a tree 1,500 levels deep."""
    engine = make_engine(migrated_url)
    key, _row = create_api_key(engine, "limits-tester")
    try:
        for url in serve_role(engine, migrated_url, {("engine", "max_nesting_depth"): 5000}):
            with httpx.Client(base_url=url + "/v2", timeout=120,
                              headers={"X-Auth-Token": key}) as client:
                yield Api(url, client, engine, key)
    finally:
        engine.dispose()


def test_cancel_of_a_deep_tree(unlimited: Api) -> None:
    """A tree of 1,500 nested workflows starts (one loop, no recursion) and cancels."""
    client = unlimited.client
    levels = 1500
    created = client.post("/workflows", content=DEEP, headers=TEXT)
    assert created.status_code == 201, created.text
    ex = client.post("/executions", json={"workflow_name": "deep", "input": {"bottom": levels}})
    assert ex.status_code == 201, ex.text
    root = ex.json()["id"]
    deadline = time.monotonic() + 120
    bottom: list[dict[str, Any]] = []
    while not bottom and time.monotonic() < deadline:
        state = client.get(f"/executions/{root}").json()
        assert state["state"] == "RUNNING", state["state_info"][:300]
        bottom = client.get("/executions", params={"workflow_name": "deepest"}).json()[
            "executions"]
        time.sleep(0.2)
    assert bottom, "the tree was not built"
    cancelled = client.put(f"/executions/{root}", json={"state": "CANCELLED"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "CANCELLED"
    assert client.get(f"/executions/{bottom[0]['id']}").json()["state"] == "CANCELLED"
    listed = client.get("/executions", params={"state": "CANCELLED", "limit": 1000})
    assert listed.status_code == 200 and len(listed.json()["executions"]) == 1000
    others = client.get("/executions", params={"state": "neq:CANCELLED"})
    assert others.status_code == 200 and others.json()["executions"] == []
    assert client.delete(f"/executions/{root}").status_code == 204
    assert client.get("/executions").json()["executions"] == []


def test_task_timeouts_must_be_positive(limited: Api) -> None:
    client = limited.client
    for value in ("0", "-3"):
        text = ("---\nversion: '2.0'\nzero:\n  tasks:\n    t:\n      action: std.noop\n"
                f"      timeout: {value}\n")
        message = _fault(client.post("/workflows", content=text, headers=TEXT))
        assert "timeout" in message, message
    text = ("---\nversion: '2.0'\ncomputed:\n  tasks:\n    t:\n      action: std.noop\n"
            "      timeout: <% 0 - 2 %>\n")
    assert client.post("/workflows", content=text, headers=TEXT).status_code == 201
    started = client.post("/executions", json={"workflow_name": "computed"})
    assert started.status_code == 201, started.text
    done = _wait(limited, started.json()["id"], {"ERROR", "SUCCESS"})
    assert done["state"] == "ERROR"
    tasks = client.get(f"/executions/{done['id']}/tasks").json()["tasks"]
    assert "timeout must be a positive number of seconds" in tasks[0]["state_info"]


def test_deep_definitions_get_a_400(limited: Api) -> None:
    client = limited.client
    texts = [("---\nversion: '2.0'\nw:\n  tasks:\n    t:\n      action: std.echo\n"
              "      input:\n        output: " + "[" * levels + "]" * levels + "\n")
             for levels in (150, 5000)]
    texts.append("---\nversion: '2.0'\nw:\n  vars:\n" + "".join(
        " " * (4 + i) + f"k{i}:\n" for i in range(150)) + " " * 154 + "v: 1\n")
    for text in texts:
        for path in ("/workflows", "/workflows/validate", "/workbooks", "/actions"):
            message = _fault(client.post(path, content=text, headers=TEXT))
            assert "nested more than 100 levels deep" in message, (path, message[:300])
    assert client.get("/workflows").status_code == 200
