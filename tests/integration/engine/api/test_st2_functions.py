"""StackStorm's expression functions in a workflow run through the engine API (with a
key), in YAQL and Jinja, on SQLite and PostgreSQL; an error of one fails its task with
StackStorm's message."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.integration.engine.api.conftest import Api, has_engine_role

pytestmark = pytest.mark.skipif(not has_engine_role(),
                                reason="levante.engine.service is not built yet")

TEXT = {"content-type": "text/plain"}
WORKFLOWS = r"""---
version: '2.0'

st2_functions:
  input:
    - version: 0.10.1
    - doc: '{"hosts": [{"name": "web-1"}, {"name": "db-2"}]}'
    - seconds: 3725
  output:
    hosts: <% $.hosts %>
    names: '{{ _.hosts | jsonpath_query("[*].name") }}'
    next_minor: '{{ _.version | version_bump_minor }}'
    newer: <% version_more_than($.version, '0.9.0') %>
    took: '{{ to_human_time_from_seconds(_.seconds) }}'
    db: <% regex_substring(to_json_string($.hosts, indent => null), 'db-(\d)') %>
    yaml: '{{ _.hosts[0] | to_yaml_string }}'
    none: <% use_none(null) %>
  tasks:
    parse:
      action: std.echo output=<% from_json_string($.doc).hosts %>
      publish:
        hosts: <% task().result %>
      on-success:
        - web: <% regex_search(to_complex(task().result), 'web-[0-9]') %>

    web:
      action: std.noop

bad_version:
  tasks:
    compare:
      action: std.echo output=<% version_compare('1.0', '1.0.0') %>
"""


def _wait(api: Api, ex_id: str, seconds: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = api.client.get(f"/executions/{ex_id}").json()
        if body.get("state") in ("SUCCESS", "ERROR"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"execution {ex_id} is {body.get('state')}")


def test_a_workflow_uses_stackstorm_functions_in_yaql_and_jinja(api: Api) -> None:
    created = api.client.post("/workflows", content=WORKFLOWS, headers=TEXT)
    assert created.status_code == 201, created.text

    ex = api.client.post("/executions", json={"workflow_name": "st2_functions"}).json()
    done = _wait(api, ex["id"])
    assert done["state"] == "SUCCESS", done
    assert json.loads(done["output"]) == {
        "hosts": [{"name": "web-1"}, {"name": "db-2"}],
        "names": ["web-1", "db-2"],
        "next_minor": "0.11.0",
        "newer": True,
        "took": "1h2m5s",
        "db": "2",
        "yaml": "name: web-1\n",
        "none": "%*****__%NONE%__*****%",
    }
    tasks = api.client.get(f"/executions/{ex['id']}/tasks").json()["tasks"]
    assert sorted((t["name"], t["state"]) for t in tasks) \
        == [("parse", "SUCCESS"), ("web", "SUCCESS")]

    bad = api.client.post("/executions", json={"workflow_name": "bad_version"}).json()
    failed = _wait(api, bad["id"])
    assert failed["state"] == "ERROR"
    assert "1.0 is not valid SemVer string" in failed["state_info"], failed["state_info"]
