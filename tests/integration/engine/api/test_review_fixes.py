"""Regressions found by a reviewer who ran the engine: each test drives a real engine over
HTTP (SQLite and PostgreSQL) and shows one bug is gone."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.integration.engine.api.conftest import Api, has_engine_role

pytestmark = pytest.mark.skipif(not has_engine_role(),
                                reason="levante.engine.service is not built yet")

TEXT = {"content-type": "text/plain"}
SQL_WORDS = ("INSERT", "UPDATE ", "SELECT", "[SQL", "parameters")


def _wait(api: Api, ex_id: str, states: set[str], seconds: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = api.client.get(f"/executions/{ex_id}").json()
        if body.get("state") in states:
            return body
        time.sleep(0.05)
    raise AssertionError(f"execution {ex_id} is {body.get('state')}, expected {states}")


def _run(api: Api, definition: str, name: str) -> dict[str, Any]:
    created = api.client.post("/workflows", content=definition, headers=TEXT)
    assert created.status_code == 201, created.text
    started = api.client.post("/executions", json={"workflow_name": name})
    assert started.status_code == 201, started.text
    return _wait(api, started.json()["id"], {"SUCCESS", "ERROR"})


def _tasks(api: Api, ex_id: str) -> dict[str, dict[str, Any]]:
    listed = api.client.get(f"/executions/{ex_id}/tasks").json()["tasks"]
    return {t["name"]: t for t in listed}


NON_JSON = """---
version: '2.0'
non_json:
  tasks:
    times:
      action: std.echo
      input:
        output:
          now: <% now() %>
          day: <% datetime(2024, 5, 17) %>
          span: <% timespan(minutes => 2) %>
      publish:
        now: <% task().result.now %>
        span: <% task().result.span %>
      on-success: method
    method:
      action: std.echo output="{{ _.items }}"
"""


def test_non_json_expression_results_fail_the_task_cleanly(api: Api) -> None:
    ex = _run(api, NON_JSON, "non_json")
    tasks = _tasks(api, ex["id"])
    times = tasks["times"]
    assert times["state"] == "SUCCESS", times["state_info"]
    published = json.loads(times["published"])
    assert published["span"] == 120.0
    assert json.loads(times["result"])["day"].startswith("2024-05-17T00:00:00")
    assert published["now"].startswith("20") and "T" in published["now"]
    method = tasks["method"]
    assert ex["state"] == "ERROR" and method["state"] == "ERROR"
    info = str(method["state_info"])
    assert "{{ _.items }}" in info and "JSON" in info, info
    for text in (info, str(ex["state_info"])):
        assert not any(word in text for word in SQL_WORDS), text


def _refused(api: Api, path: str, text: str) -> str:
    response = api.client.post(path, content=text, headers=TEXT)
    assert response.status_code == 400, response.text
    return str(response.json()["faultstring"])


def _one_task(name: str, field: str, target: str) -> str:
    return f"""---
version: '2.0'
{name}:
  tasks:
    first:
      action: std.noop
      on-success: bad
    bad:
      {field}: {target}
"""


@pytest.mark.parametrize(("field", "target"), [
    ("action", "std.nope"), ("action", "nope"), ("action", "nope x=1"),
    ("workflow", "no_such_workflow"),
])
def test_unknown_actions_and_workflows_are_refused(api: Api, field: str, target: str) -> None:
    text = _one_task("refs", field, target)
    message = _refused(api, "/workflows", text)
    shown = target.split()[0]
    for part in ("'refs'", "'bad'", f"'{field}'", f"unknown {field}", shown):
        assert part in message, message
    assert api.client.get("/workflows/refs").status_code == 404
    checked = api.client.post("/workflows/validate", content=text, headers=TEXT).json()
    assert checked["valid"] is False and shown in checked["error"]


def test_platform_refs_and_known_names_are_accepted(api: Api) -> None:
    adhoc = api.client.post("/actions", headers=TEXT, content="""---
version: '2.0'
my_echo:
  base: std.echo output=hi
""")
    assert adhoc.status_code == 201, adhoc.text
    text = """---
version: '2.0'
known:
  tasks:
    platform:
      action: core.local cmd=uptime
    adhoc:
      action: my_echo
    sub:
      workflow: helper
    by_expression:
      action: <% $.name %>
helper:
  tasks:
    one:
      action: std.echo output=1
"""
    assert api.client.post("/workflows/validate", content=text,
                           headers=TEXT).json() == {"valid": True}
    created = api.client.post("/workflows", content=text, headers=TEXT)
    assert created.status_code == 201, created.text
    updated = api.client.put("/workflows", content=_one_task("known", "workflow", "helper"),
                             headers=TEXT)
    assert updated.status_code == 200, updated.text
    message = _refused(api, "/workflows", _one_task("other", "workflow", "missing"))
    assert "'missing'" in message
    response = api.client.put("/workflows", content=_one_task("known", "action", "std.nope"),
                              headers=TEXT)
    assert response.status_code == 400 and "std.nope" in response.text


WORKBOOK = """---
version: '2.0'
name: wb
actions:
  greet:
    base: std.echo output=hi
workflows:
  main:
    tasks:
      local_action:
        action: greet
      local_workflow:
        workflow: sub
      {extra}
  sub:
    tasks:
      one:
        action: std.noop
"""


def test_workbook_references_are_checked(api: Api) -> None:
    good = WORKBOOK.format(extra="platform:\n        action: linux.check_loadavg")
    assert api.client.post("/workbooks/validate", content=good,
                           headers=TEXT).json() == {"valid": True}
    created = api.client.post("/workbooks", content=good, headers=TEXT)
    assert created.status_code == 201, created.text
    bad = WORKBOOK.format(extra="broken:\n        workflow: elsewhere")
    message = _refused(api, "/workbooks", bad.replace("name: wb", "name: wb2"))
    assert "'wb2.main'" in message and "'broken'" in message and "'workflow'" in message
    response = api.client.put("/workbooks", content=bad, headers=TEXT)
    assert response.status_code == 400, response.text
    checked = api.client.post("/workbooks/validate", content=bad, headers=TEXT).json()
    assert checked["valid"] is False


PARENT = """---
version: '2.0'
leaf:
  tasks:
    one:
      action: std.noop
tree:
  tasks:
    child:
      workflow: leaf
"""


def test_root_execution_id_null_finds_top_level_executions(api: Api) -> None:
    ex = _run(api, PARENT, "tree")
    assert ex["state"] == "SUCCESS", ex["state_info"]
    listed = api.client.get("/executions").json()["executions"]
    shown = {e["id"]: e["root_execution_id"] for e in listed}
    assert shown[ex["id"]] is None
    (child_id,) = [i for i in shown if i != ex["id"]]
    assert shown[child_id] == ex["id"]
    for value in ("null", "eq:null", "None"):
        top = api.client.get("/executions", params={"root_execution_id": value})
        assert [e["id"] for e in top.json()["executions"]] == [ex["id"]], value
    children = api.client.get("/executions", params={"root_execution_id": ex["id"]}).json()
    assert [e["id"] for e in children["executions"]] == [child_id]
    nested = api.client.get("/executions", params={"root_execution_id": "neq:null"}).json()
    assert [e["id"] for e in nested["executions"]] == [child_id]


def test_a_page_full_at_the_capped_limit_has_a_next_link(api: Api) -> None:
    from levante.engine.store import definitions
    from levante.engine.store.queries import MAX_LIMIT

    with api.engine.begin() as conn:
        for n in range(MAX_LIMIT + 1):
            definitions.create_environment(conn, f"env-{n:05d}", {"n": n})
    first = api.client.get("/environments", params={"limit": MAX_LIMIT * 5}).json()
    assert len(first["environments"]) == MAX_LIMIT
    assert "next" in first, "a full page must link to the next one"
    rest = api.client.get(first["next"]).json()
    assert len(rest["environments"]) == 1 and "next" not in rest
    seen = {e["name"] for e in first["environments"] + rest["environments"]}
    assert len(seen) == MAX_LIMIT + 1


@pytest.mark.parametrize(("path", "field"), [
    ("/workflows", "spec"), ("/workflows", "checksum"), ("/workflows", "is_system"),
    ("/workflows", "workbook_name"), ("/actions", "spec"), ("/workbooks", "nope"),
    ("/executions", "nope"), ("/tasks", "nope"), ("/action_executions", "nope"),
])
def test_fields_refuses_what_the_resource_does_not_have(api: Api, path: str,
                                                        field: str) -> None:
    response = api.client.get(path, params={"fields": f"id,{field}"})
    assert response.status_code == 400, response.text
    assert f"'{field}'" in response.json()["faultstring"]


def test_fields_accepts_every_shown_field(api: Api) -> None:
    created = api.client.post("/workflows", content=PARENT, headers=TEXT)
    assert created.status_code == 201, created.text
    shown = sorted(created.json()["workflows"][0])
    listed = api.client.get("/workflows", params={"fields": ",".join(shown)})
    assert listed.status_code == 200, listed.text
    assert sorted(listed.json()["workflows"][0]) == shown
    names = api.client.get("/workflows", params={"fields": "name"}).json()["workflows"]
    assert sorted(names[0]) == ["id", "name"]


SECRETS = """---
version: '2.0'
leaky:
  tasks:
    direct:
      action: std.http
      input:
        url: http://alice:s3cret-pw@127.0.0.1:9/path
        auth: alice:s3cret-auth
        timeout: 2
    adhoc:
      action: my_get
      input:
        target: http://bob:s3cret-adhoc@127.0.0.1:9/
"""
ADHOC_GET = """---
version: '2.0'
my_get:
  input:
    - target
  base: std.http
  base-input:
    url: <% $.target %>
    timeout: 2
"""


def test_credentials_in_http_urls_and_auth_are_masked(api: Api) -> None:
    adhoc = api.client.post("/actions", content=ADHOC_GET, headers=TEXT)
    assert adhoc.status_code == 201, adhoc.text
    ex = _run(api, SECRETS, "leaky")
    tasks = _tasks(api, ex["id"])
    seen = []
    for name in ("direct", "adhoc"):
        actions = api.client.get(f"/tasks/{tasks[name]['id']}/action_executions").json()
        (action,) = actions["action_executions"]
        seen.append(action["input"])
        seen.append(str(action["state_info"]))
        seen.append(str(action.get("output")))
        seen.append(str(tasks[name]["state_info"]))
    listed = api.client.get("/action_executions").json()
    text = json.dumps(seen) + json.dumps(listed)
    assert "s3cret" not in text, text
    direct = json.loads(seen[0])
    assert direct["url"] == "http://alice:******@127.0.0.1:9/path"
    assert direct["auth"] == "******"
    assert json.loads(seen[4])["target"] == "http://bob:******@127.0.0.1:9/"


WAITING = """---
version: '2.0'
stuck:
  tasks:
    wait:
      action: std.async_noop
"""


def test_an_internal_error_never_shows_sql(api: Api) -> None:
    from levante.engine.core import scheduler
    from levante.engine.core.runtime import writer
    from levante.engine.core.step import StepShared

    created = api.client.post("/workflows", content=WAITING, headers=TEXT)
    assert created.status_code == 201, created.text
    ex_id = api.client.post("/executions", json={"workflow_name": "stuck"}).json()["id"]
    _wait(api, ex_id, {"RUNNING"})
    error = RuntimeError("(sqlite3.IntegrityError) NOT NULL constraint failed "
                         "[SQL: INSERT INTO task_executions (id) VALUES (?)] "
                         "[parameters: ('secret',)]")
    shared = StepShared()
    job = {"id": -1, "execution_id": ex_id, "attempts": shared.settings.max_attempts - 1}
    with writer(api.engine) as conn:
        scheduler._job_failed(conn, shared, job, error)
    ex = _wait(api, ex_id, {"ERROR"})
    info = str(ex["state_info"])
    assert "Internal error" in info and "engine log" in info, info
    assert not any(word in info for word in (*SQL_WORDS, "secret")), info
