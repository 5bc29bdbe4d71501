"""StackStorm content of the Mistral era through the real `st2` CLI: a workbook named
like its action (`mypack.mywb`) holding several workflows that call each other by short
and full names, a workflow with no `output` section, a failing one, and StackStorm's values
in the workflow environment (`env().st2_*`, `__actions['st2.action'].st2_context`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.acceptance.handshake_launch.conftest import running_system
from tests.acceptance.handshake_launch.test_st2_workflow import ST2, _st2
from tests.harness import System

pytestmark = pytest.mark.skipif(
    not ST2.exists(), reason="st2client is not installed: run `make clients`"
)

MYPACK = {
    "mypack/pack.yaml": "ref: mypack\nname: mypack\ndescription: StackStorm-style content\n"
                        "version: 1.0.0\nauthor: tests\n",
    "mypack/actions/mywb.yaml": """---
name: mywb
runner_type: mistral-v2
description: A workbook of several workflows, named like the action.
entry_point: workflows/mywb.yaml
parameters:
  who: {type: string, default: World}
  workflow: {type: string, default: mypack.mywb.main, immutable: true}
notify:
  on-complete: {message: "mywb ended", routes: [ops]}
""",
    "mypack/actions/workflows/mywb.yaml": """---
version: '2.0'
name: mypack.mywb
workflows:
  main:
    input: [who]
    output:
      short: <% $.short %>
      full: <% $.full %>
      echoed: <% $.echoed %>
      env: <% $.env %>
    tasks:
      by_short_name:
        workflow: greet
        input: {who: <% $.who %>}
        publish: {short: <% task().result.greeting %>}
        on-success: [by_full_name]
      by_full_name:
        workflow: mypack.mywb.greet
        input: {who: full}
        publish: {full: <% task().result.greeting %>}
        on-success: [st2_action]
      st2_action:
        action: core.local cmd="echo from-st2"
        publish:
          echoed: <% task().result.stdout %>
          env:
            execution_id: <% env().st2_execution_id %>
            liveaction_id: <% env().st2_liveaction_id %>
            api_url: <% env().st2_action_api_url %>
            st2_context: <% env()['__actions']['st2.action'].st2_context %>
  greet:
    input: [who]
    output: {greeting: <% $.greeting %>}
    tasks:
      say:
        action: std.echo output="Hello, <% $.who %>!"
        publish: {greeting: <% task().result %>}
""",
    "mypack/actions/no_output.yaml": """---
name: no_output
runner_type: mistral-v2
entry_point: workflows/no_output.yaml
parameters:
  a: {type: string, required: true}
""",
    "mypack/actions/workflows/no_output.yaml": """---
version: '2.0'
mypack.no_output:
  input: [a]
  vars: {hidden: 1}
  tasks:
    first:
      action: core.local cmd="echo <% $.a %>"
      publish: {x: <% task().result.stdout %>}
      on-success: [second]
    second:
      action: std.noop
      publish: {y: <% $.x %>-y}
""",
    "mypack/actions/failing.yaml": """---
name: failing
runner_type: mistral-v2
entry_point: workflows/failing.yaml
parameters:
  a: {type: string, default: A}
""",
    "mypack/actions/workflows/failing.yaml": """---
version: '2.0'
mypack.failing:
  input: [a]
  output: {never: <% $.x %>}
  tasks:
    first:
      action: std.echo output=<% $.a %>
      publish: {x: <% task().result %>}
      on-success: [boom]
    boom:
      action: core.local cmd="exit 4"
""",
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                                marks=pytest.mark.postgres)])
def system(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[System]:
    yield from running_system(request.param, tmp_path_factory, packs=MYPACK)


def _run(system: System, *args: str) -> dict[str, Any]:
    ran = _st2(system, "run", *args, "-j")
    assert ran.stdout.lstrip().startswith("{"), ran.stdout + ran.stderr
    found: dict[str, Any] = json.loads(ran.stdout)
    return found


def _tasks(execution: dict[str, Any]) -> list[tuple[str, str]]:
    return [(t["name"], t["state"]) for t in execution["result"]["tasks"]]


def test_a_pack_action_workbook_runs_with_its_full_names(system: System) -> None:
    execution = _run(system, "mypack.mywb", "who=St2")
    assert execution["status"] == "succeeded", execution["result"]
    result = execution["result"]
    assert result["short"] == "Hello, St2!" and result["full"] == "Hello, full!"
    assert result["echoed"] == "from-st2"
    assert _tasks(execution) == [("by_short_name", "SUCCESS"), ("by_full_name", "SUCCESS"),
                                 ("st2_action", "SUCCESS")]
    wf_ids = {t["workflow_execution_id"] for t in result["tasks"]}
    assert {t["workflow_name"] for t in result["tasks"]} == {"mypack.mywb.main"}
    detail = system.get(execution["id"])
    assert detail["context"]["mistral"]["workflow_name"] == "mypack.mywb.main"
    assert wf_ids == {detail["context"]["mistral"]["execution_id"]}
    children = system.children(execution["id"])
    assert [c["action"]["ref"] for c in children] == ["core.local"]

    # StackStorm's values in the workflow's environment, as its mistral-v2 runner set them
    env = result["env"]
    api = f"{system.api}/v1"
    assert env["execution_id"] == env["liveaction_id"] == execution["id"]
    assert env["api_url"] == api
    st2_context = env["st2_context"]
    assert st2_context["api_url"] == api
    assert st2_context["endpoint"] == f"{api}/actionexecutions"
    parent = st2_context["parent"]
    assert parent["execution_id"] == execution["id"]
    assert parent["pack"] == "mypack" and parent["user"] == detail["context"]["user"]
    assert "mistral" not in parent  # a root workflow: no parent workflow's ids
    # the action's notify block, as StackStorm's runner passed it; no task skipped
    assert st2_context["notify"] == {"on-complete": {"message": "mywb ended",
                                                     "routes": ["ops"]}}
    assert st2_context["skip_notify_tasks"] == st2_context["skip_notify"] == []


def test_the_engine_holds_the_workbook_members_by_full_name(system: System) -> None:
    import httpx

    _run(system, "mypack.mywb")
    answer = httpx.get(f"{system.engine}/v2/workflows", timeout=30)
    names = {w["name"] for w in answer.json()["workflows"]}
    assert {"mypack.mywb.main", "mypack.mywb.greet"} <= names
    assert not any(n.startswith("mypack.mywb.mywb") for n in names)
    book = httpx.get(f"{system.engine}/v2/workbooks/mypack.mywb", timeout=30)
    assert book.status_code == 200 and book.json()["name"] == "mypack.mywb"


def test_no_output_section_gives_what_the_tasks_published(system: System) -> None:
    execution = _run(system, "mypack.no_output", "a=A")
    assert execution["status"] == "succeeded", execution["result"]
    result = execution["result"]
    # as Mistral 23: the published values, neither the input nor `vars`
    assert {k: v for k, v in result.items() if k not in ("tasks", "extra")} == {
        "x": "A", "y": "A-y"}
    assert _tasks(execution) == [("first", "SUCCESS"), ("second", "SUCCESS")]


def test_a_failing_workflow_shows_its_message_and_context(system: System) -> None:
    execution = _run(system, "mypack.failing")
    assert execution["status"] == "failed"
    result = execution["result"]
    assert result["x"] == "A" and "never" not in result
    assert result["result"].startswith("Failure caused by error in tasks: boom")
    assert result["extra"]["state"] == "ERROR"
    assert result["extra"]["state_info"] == result["result"]
    assert _tasks(execution) == [("first", "SUCCESS"), ("boom", "ERROR")]
    shown = _st2(system, "execution", "get", execution["id"])
    assert shown.returncode == 0, shown.stderr
    assert "status: failed" in shown.stdout
