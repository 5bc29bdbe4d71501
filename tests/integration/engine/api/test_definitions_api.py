"""The definition side of the Mistral v2 API over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from tests.integration.engine.api.conftest import Api

TEXT = {"content-type": "text/plain"}

TWO_WORKFLOWS = """---
version: '2.0'

wf_one:
  description: first
  tags: [demo, one]
  input:
    - name
    - greeting: hello
  tasks:
    hello:
      action: std.echo output="<% $.greeting %> <% $.name %>"

# the second one
wf_two:
  tasks:
    noop:
      action: std.noop
"""

WORKBOOK = """---
version: '2.0'
name: book
tags: [wb]
actions:
  greet:
    base: std.echo
    base-input:
      output: "hi <% $.who %>"
    input: [who]
workflows:
  main:
    tasks:
      first:
        action: greet who=me
"""

ACTIONS = """---
version: '2.0'
my_echo:
  description: echoes
  base: std.echo
  base-input:
    output: <% $.text %>
  input:
    - text
"""


def _fault(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) >= {"faultstring", "debuginfo", "error_code"}
    assert body["error_code"] == response.status_code  # type: ignore[attr-defined]
    return str(body["faultstring"])


def test_workflow_lifecycle(api: Api) -> None:
    created = api.client.post("/workflows", content=TWO_WORKFLOWS, headers=TEXT)
    assert created.status_code == 201, created.text
    wfs = {w["name"]: w for w in created.json()["workflows"]}
    assert set(wfs) == {"wf_one", "wf_two"}
    one = wfs["wf_one"]
    assert one["input"] == "name, greeting=hello"
    assert one["tags"] == ["demo", "one"]
    assert one["scope"] == "private"
    assert "wf_two" not in one["definition"] and "wf_one:" in one["definition"]
    assert len(one["created_at"]) == len("2026-01-01 00:00:00")

    by_name = api.client.get("/workflows/wf_one").json()
    by_id = api.client.get(f"/workflows/{one['id']}").json()
    assert by_name["id"] == by_id["id"] == one["id"]

    dup = api.client.post("/workflows", content=TWO_WORKFLOWS, headers=TEXT)
    assert dup.status_code == 409
    assert "wf_one" in _fault(dup)

    changed = TWO_WORKFLOWS.replace("greeting: hello", "greeting: hi")
    updated = api.client.put("/workflows", content=changed, headers=TEXT)
    assert updated.status_code == 200, updated.text
    assert {w["name"]: w["input"] for w in updated.json()["workflows"]}["wf_one"] == (
        "name, greeting=hi"
    )
    assert api.client.get("/workflows/wf_one").json()["updated_at"] is not None

    assert api.client.delete("/workflows/wf_two").status_code == 204
    missing = api.client.get("/workflows/wf_two")
    assert missing.status_code == 404
    assert "wf_two" in _fault(missing)
    assert [w["name"] for w in api.client.get("/workflows").json()["workflows"]] == ["wf_one"]


def test_bad_workflow_is_refused_with_where(api: Api) -> None:
    bad_yaml = "version: '2.0'\nwf:\n  tasks:\n    t1: [unclosed\n"
    response = api.client.post("/workflows", content=bad_yaml, headers=TEXT)
    assert response.status_code == 400
    assert "line" in _fault(response)

    unknown_task = (
        "version: '2.0'\nwf:\n  tasks:\n    t1:\n      action: std.noop\n"
        "      on-success: [nowhere]\n"
    )
    response = api.client.post("/workflows", content=unknown_task, headers=TEXT)
    assert response.status_code == 400
    message = _fault(response)
    assert "wf" in message and "t1" in message and "nowhere" in message

    valid = api.client.post("/workflows/validate", content=unknown_task, headers=TEXT)
    assert valid.status_code == 200
    assert valid.json()["valid"] is False and "nowhere" in valid.json()["error"]
    ok = api.client.post("/workflows/validate", content=TWO_WORKFLOWS, headers=TEXT)
    assert ok.json() == {"valid": True}

    assert api.client.post("/workflows", content="", headers=TEXT).status_code == 400
    assert api.client.post("/workflows", content=b"\xff\xfe", headers=TEXT).status_code == 400
    assert api.client.get("/workflows").json()["workflows"] == []


def test_workbook_registers_its_workflows_and_actions(api: Api) -> None:
    created = api.client.post("/workbooks", content=WORKBOOK, headers=TEXT)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "book"
    assert created.json()["tags"] == ["wb"]
    assert api.client.get("/workflows/book.main").status_code == 200
    action = api.client.get("/actions/book.greet")
    assert action.status_code == 200
    assert action.json()["input"] == "who"
    assert action.json()["is_system"] is False

    assert api.client.post("/workbooks", content=WORKBOOK, headers=TEXT).status_code == 409
    updated = api.client.put("/workbooks", content=WORKBOOK.replace("[wb]", "[wb, v2]"),
                             headers=TEXT)
    assert updated.status_code == 200
    assert api.client.get("/workbooks/book").json()["tags"] == ["wb", "v2"]
    valid = api.client.post("/workbooks/validate", content="name: x\n", headers=TEXT)
    assert valid.status_code == 200 and valid.json()["valid"] is False

    assert api.client.delete("/workbooks/book").status_code == 204
    assert api.client.get("/workflows/book.main").status_code == 404
    assert api.client.get("/actions/book.greet").status_code == 404
    assert api.client.get("/workbooks/book").status_code == 404


def test_actions_standard_and_ad_hoc(api: Api) -> None:
    created = api.client.post("/actions", content=ACTIONS, headers=TEXT)
    assert created.status_code == 201, created.text
    assert created.json()["actions"][0]["name"] == "my_echo"
    listed = api.client.get("/actions").json()["actions"]
    names = [a["name"] for a in listed]
    assert "std.echo" in names and "my_echo" in names
    echo = api.client.get("/actions/std.echo").json()
    assert echo["is_system"] is True and echo["input"].startswith("output")
    assert api.client.get("/actions/my_echo/").json()["description"] == "echoes"
    assert api.client.delete("/actions/std.echo").status_code == 400
    system_only = api.client.get("/actions", params={"is_system": "false"}).json()["actions"]
    assert [a["name"] for a in system_only] == ["my_echo"]
    assert api.client.delete("/actions/my_echo").status_code == 204
    assert api.client.get("/actions/my_echo").status_code == 404
    assert api.client.post("/actions/validate", content=ACTIONS, headers=TEXT).json() == {
        "valid": True
    }


def test_environments(api: Api) -> None:
    body = {"name": "prod", "description": "d", "variables": json.dumps({"host": "h"})}
    created = api.client.post("/environments", json=body)
    assert created.status_code == 201
    assert json.loads(created.json()["variables"]) == {"host": "h"}
    assert api.client.post("/environments", json=body).status_code == 409
    updated = api.client.put("/environments", json={"name": "prod", "variables": {"a": 1}})
    assert json.loads(updated.json()["variables"]) == {"a": 1}
    assert api.client.get("/environments/prod").json()["description"] == "d"
    assert api.client.post("/environments", json={"name": "x", "variables": "[1"}).status_code \
        == 400
    assert api.client.post("/environments", json=["not", "an", "object"]).status_code == 400
    assert api.client.delete("/environments/prod").status_code == 204
    assert api.client.delete("/environments/prod").status_code == 404


def test_cron_triggers(api: Api) -> None:
    api.client.post("/workflows", content=TWO_WORKFLOWS, headers=TEXT)
    body = {"name": "nightly", "workflow_name": "wf_one", "pattern": "0 3 * * *",
            "workflow_input": json.dumps({"name": "n"}), "remaining_executions": 5}
    created = api.client.post("/cron_triggers", json=body)
    assert created.status_code == 201, created.text
    trigger = created.json()
    assert trigger["pattern"] == "0 3 * * *"
    assert trigger["next_execution_time"].endswith("03:00:00")
    assert json.loads(trigger["workflow_input"]) == {"name": "n"}
    assert api.client.post("/cron_triggers", json=body).status_code == 409
    bad = api.client.post("/cron_triggers", json={**body, "name": "b", "pattern": "nope"})
    assert bad.status_code == 400 and "pattern" in _fault(bad)
    missing = api.client.post("/cron_triggers", json={**body, "name": "c",
                                                       "workflow_name": "none"})
    assert missing.status_code == 404
    in_use = api.client.delete("/workflows/wf_one")
    assert in_use.status_code == 400 and "nightly" in _fault(in_use)
    assert api.client.get("/cron_triggers/nightly").json()["id"] == trigger["id"]
    assert [t["name"] for t in api.client.get("/cron_triggers").json()["cron_triggers"]] == [
        "nightly"
    ]
    assert api.client.delete("/cron_triggers/nightly").status_code == 204
    assert api.client.delete("/workflows/wf_one").status_code == 204


def test_list_filters_sorting_and_paging(api: Api) -> None:
    for index in range(5):
        text = f"version: '2.0'\nw{index}:\n  tags: [t{index % 2}]\n  tasks:\n" \
               "    a:\n      action: std.noop\n"
        assert api.client.post("/workflows", content=text, headers=TEXT).status_code == 201

    def names(**params: str) -> list[str]:
        response = api.client.get("/workflows", params=params)
        assert response.status_code == 200, response.text
        return [w["name"] for w in response.json()["workflows"]]

    assert names(sort_keys="name", sort_dirs="desc") == ["w4", "w3", "w2", "w1", "w0"]
    assert names(name="in:w1,w3", sort_keys="name") == ["w1", "w3"]
    assert names(name="nin:w1,w3", sort_keys="name") == ["w0", "w2", "w4"]
    assert names(name="neq:w0", sort_keys="name") == ["w1", "w2", "w3", "w4"]
    assert names(name="gte:w3", sort_keys="name") == ["w3", "w4"]
    assert names(tags="has:t1", sort_keys="name") == ["w1", "w3"]
    assert names(name="w2") == ["w2"]
    assert names(created_at="gt:2000-01-01 00:00:00", name="lt:w1") == ["w0"]

    seen: list[str] = []
    page = api.client.get("/workflows", params={"limit": 2, "sort_keys": "name"}).json()
    while True:
        seen += [w["name"] for w in page["workflows"]]
        if "next" not in page:
            break
        page = api.client.get(page["next"]).json()
    assert seen == ["w0", "w1", "w2", "w3", "w4"]

    only = api.client.get("/workflows", params={"fields": "name", "limit": 1}).json()
    assert set(only["workflows"][0]) == {"id", "name"}

    for params in ({"bogus": "1"}, {"limit": "x"}, {"sort_dirs": "up"}, {"sort_keys": "nope"},
                   {"created_at": "gt:yesterday"}, {"marker": "no-such-id"},
                   {"fields": "nope"}, {"tags": "gt:1"}):
        response = api.client.get("/workflows", params=params)
        assert response.status_code == 400, (params, response.text)
        _fault(response)


@pytest.mark.parametrize("path", ["/nowhere", "/workflows/x/y/z"])
def test_unknown_paths_answer_a_fault(api: Api, path: str) -> None:
    response = api.client.get(path)
    assert response.status_code == 404
    _fault(response)


def test_root_and_openapi(api: Api) -> None:
    assert api.client.get("").json()["version"]["id"] == "v2.0"
    doc = api.client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert "/v2/executions" in doc["paths"] and "post" in doc["paths"]["/v2/workflows"]


HOSTILE: list[tuple[str, str, dict[str, object]]] = [
    ("GET", "/cron_triggers?remaining_executions=eq:99999999999999999999", {}),
    ("GET", "/workflows?name=a%00b", {}),
    ("GET", "/executions/a%00b", {}),
    ("POST", "/environments", {"json": {"name": "a\x00b", "variables": {}}}),
    ("POST", "/environments", {"json": {"name": "ok", "description": "x\x00"}}),
    ("POST", "/environments", {"json": {"name": "n" * 300}}),
    ("POST", "/workflows?namespace=" + "n" * 300,
     {"content": "version: '2.0'\nw:\n  tasks:\n    t:\n      action: std.noop\n"}),
    ("POST", "/workflows", {"content": "version: '2.0'\nw\x00:\n  tasks: {}\n"}),
    ("POST", "/workflows", {"content": "- just\n- a list\n"}),
    ("POST", "/cron_triggers", {"json": {"name": "c", "workflow_name": "w",
                                         "pattern": "* * * * *",
                                         "remaining_executions": 99999999999999}}),
    ("POST", "/cron_triggers", {"json": {"name": ["c"], "workflow_name": "w"}}),
    ("PUT", "/environments", {"json": {"name": "none", "variables": "{}"}}),
    ("POST", "/executions", {"json": {"workflow_name": "w", "params": "[]"}}),
]


def test_hostile_input_is_a_4xx(api: Api) -> None:
    for method, path, kwargs in HOSTILE:
        response = api.client.request(method, path, **kwargs)  # type: ignore[arg-type]
        assert 400 <= response.status_code < 500, (method, path, response.text)
        _fault(response)
