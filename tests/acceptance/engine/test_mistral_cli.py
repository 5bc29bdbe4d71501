"""The real `mistral` CLI (python-mistralclient), unchanged, driving a running engine."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.engine.conftest import Mistral, has_engine_service, has_runtime

WORKFLOWS = """---
version: '2.0'

cli_hello:
  description: says hello
  tags: [cli]
  input:
    - name
    - greeting: Hello
  output:
    message: <% $.message %>
  tasks:
    greet:
      action: std.echo output="<% $.greeting %>, <% $.name %>! (<% env().site %>)"
      publish:
        message: <% task().result %>

cli_wait:
  tasks:
    wait:
      action: std.async_noop
"""

needs_runtime = pytest.mark.skipif(
    not (has_runtime() and has_engine_service()),
    reason="levante.engine.core.runtime or levante.engine.service is not built yet",
)


def _file(mistral: Mistral, name: str, text: str) -> str:
    path = Path(mistral.home) / name
    path.write_text(text)
    return str(path)


def _fields(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`-f json` of a show command: a list of {Field, Value} or a plain object."""
    if isinstance(rows, dict):
        return rows
    return {row["Field"]: row["Value"] for row in rows}


@pytest.fixture(scope="module")
def workflows(mistral: Mistral) -> list[dict[str, Any]]:
    created: list[dict[str, Any]] = mistral.json_out(
        "workflow-create", _file(mistral, "wfs.yaml", WORKFLOWS)
    )
    return created


def _wait_state(mistral: Mistral, ex_id: str, states: set[str], seconds: float = 20) -> str:
    deadline = time.monotonic() + seconds
    state = ""
    while time.monotonic() < deadline:
        state = _fields(mistral.json_out("execution-get", ex_id))["State"]
        if state in states:
            return str(state)
        time.sleep(0.1)
    raise AssertionError(f"execution {ex_id} stayed {state}, expected one of {states}")


def test_workflow_create_list_get(mistral: Mistral, workflows: list[dict[str, Any]]) -> None:
    assert sorted(w["Name"] for w in workflows) == ["cli_hello", "cli_wait"]
    listed = mistral.json_out("workflow-list")
    hello = next(w for w in listed if w["Name"] == "cli_hello")
    assert hello["Input"] == "name, greeting=Hello"
    assert hello["Tags"] == "cli"
    got = _fields(mistral.json_out("workflow-get", "cli_hello"))
    assert got["ID"] == hello["ID"]
    definition = mistral.run("workflow-get-definition", "cli_hello").stdout
    assert "cli_hello:" in definition and "cli_wait" not in definition
    again = mistral.run("workflow-create", _file(mistral, "again.yaml", WORKFLOWS), check=False)
    assert again.returncode != 0 and "already exists" in again.stderr


def test_workflow_validate_names_the_problem(mistral: Mistral) -> None:
    bad = "version: '2.0'\nbroken:\n  tasks:\n    t:\n      action: std.noop\n" \
          "      on-success: [ghost]\n"
    out = _fields(mistral.json_out("workflow-validate", _file(mistral, "bad.yaml", bad)))
    assert out["Valid"] is False
    assert "ghost" in out["Error"]


def test_environment_create_and_get(mistral: Mistral) -> None:
    env_file = _file(mistral, "env.json", json.dumps(
        {"name": "cli_env", "description": "test", "variables": {"site": "lab"}}))
    created = _fields(mistral.json_out("environment-create", env_file))
    assert created["Name"] == "cli_env"
    got = _fields(mistral.json_out("environment-get", "cli_env"))
    variables = got["Variables"]
    assert (json.loads(variables) if isinstance(variables, str) else variables) == {
        "site": "lab"
    }
    assert "cli_env" in [e["Name"] for e in mistral.json_out("environment-list")]


def test_cron_trigger_create(mistral: Mistral, workflows: list[dict[str, Any]]) -> None:
    created = _fields(mistral.json_out(
        "cron-trigger-create", "cli_nightly", "cli_hello", '{"name": "cron"}',
        "--pattern", "0 4 * * *", "--count", "3",
    ))
    assert created["Name"] == "cli_nightly"
    assert created["Pattern"] == "0 4 * * *"
    assert created["Remaining executions"] == 3
    assert str(created["Next execution time"]).endswith("04:00:00")
    listed = mistral.json_out("cron-trigger-list")
    assert [t["Name"] for t in listed] == ["cli_nightly"]
    mistral.run("cron-trigger-delete", "cli_nightly")
    assert [t["Name"] for t in mistral.json_out("cron-trigger-list") if t["Name"]] == []


def test_action_list_shows_standard_actions(mistral: Mistral) -> None:
    names = [a["Name"] for a in mistral.json_out("action-list")]
    assert "std.echo" in names and "std.http" in names


@needs_runtime
def test_execution_with_input_and_params(mistral: Mistral,
                                         workflows: list[dict[str, Any]]) -> None:
    created = _fields(mistral.json_out(
        "execution-create", "cli_hello", '{"name": "Ada"}', '{"env": {"site": "lab"}}',
        "-d", "from the cli",
    ))
    ex_id = created["ID"]
    assert created["Workflow name"] == "cli_hello"
    assert created["Description"] == "from the cli"
    assert _wait_state(mistral, ex_id, {"SUCCESS", "ERROR"}) == "SUCCESS"
    output = json.loads(mistral.run("execution-get-output", ex_id).stdout)
    assert output == {"message": "Hello, Ada! (lab)"}
    assert json.loads(mistral.run("execution-get-input", ex_id).stdout) == {
        "name": "Ada", "greeting": "Hello"
    }

    tasks = mistral.json_out("task-list", ex_id)
    assert [(t["Name"], t["State"]) for t in tasks] == [("greet", "SUCCESS")]
    result = json.loads(mistral.run("task-get-result", tasks[0]["ID"]).stdout)
    assert result == "Hello, Ada! (lab)"
    actions = mistral.json_out("action-execution-list")
    assert any(a["Name"] == "std.echo" and a["Task ID"] == tasks[0]["ID"] for a in actions)


@needs_runtime
def test_execution_pause_resume_cancel(mistral: Mistral,
                                       workflows: list[dict[str, Any]]) -> None:
    ex_id = _fields(mistral.json_out("execution-create", "cli_wait"))["ID"]
    _wait_state(mistral, ex_id, {"RUNNING"})
    paused = _fields(mistral.json_out("execution-update", ex_id, "-s", "PAUSED"))
    assert paused["State"] == "PAUSED"
    resumed = _fields(mistral.json_out("execution-update", ex_id, "-s", "RUNNING"))
    assert resumed["State"] == "RUNNING"
    mistral.run("execution-update", ex_id, "-s", "CANCELLED")
    assert _wait_state(mistral, ex_id, {"CANCELLED", "ERROR", "SUCCESS"}) == "CANCELLED"


@needs_runtime
def test_run_action_alone(mistral: Mistral) -> None:
    out = mistral.run("run-action", "std.echo", '{"output": "ping"}').stdout
    assert json.loads(out) == {"result": "ping"}


@pytest.mark.skipif(not has_engine_service(), reason="levante.engine.service is not built yet")
def test_without_a_key_the_engine_answers_401(mistral: Mistral) -> None:
    """The same CLI without --os-auth-token: the engine refuses (the key is required)."""
    done = mistral.run("workflow-list", check=False, auth=False)
    assert done.returncode != 0
    assert "Unauthorized" in done.stdout + done.stderr
    wrong = Mistral(mistral.url, mistral.home, "not-a-key")
    done = wrong.run("workflow-list", check=False)
    assert done.returncode != 0
    assert "not a valid API key or token" in done.stdout + done.stderr


@pytest.mark.skipif(not has_engine_service(), reason="levante.engine.service is not built yet")
def test_the_catalog_alone_leads_to_the_engine(mistral: Mistral,
                                               workflows: list[dict[str, Any]]) -> None:
    """Without --os-mistral-url, mistralclient finds the engine in the Keystone catalog."""
    import os
    import subprocess

    from tests.acceptance.engine.conftest import MISTRAL

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(mistral.home),
           "LANG": "C.UTF-8"}
    done = subprocess.run([str(MISTRAL), *mistral.auth_args(), "workflow-list", "-f", "json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {"cli_hello", "cli_wait"} <= {row["Name"] for row in json.loads(done.stdout)}
