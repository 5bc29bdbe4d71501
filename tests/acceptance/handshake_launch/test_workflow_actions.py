"""Workflow actions launched from the platform on the engine, with tasks that run platform
actions as child executions, across separate processes and databases (handshakes 1, 2)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from levante.db.connect import make_engine
from levante.platform.workflows import reports as engine_reporting
from tests.harness import System

ACTIVE = frozenset({"running"})


def _check_child(child: dict[str, Any], parent: dict[str, Any]) -> None:
    mistral = child["context"]["mistral"]
    assert child["parent"] == parent["id"]
    assert mistral["workflow_execution_id"] == parent["context"]["mistral"]["execution_id"]
    assert mistral["task_name"] and mistral["task_execution_id"]
    assert mistral["action_execution_id"]


def test_the_example_workflow_end_to_end_with_the_cli(system: System) -> None:
    proc = system.levante("run", "examples.hello_chain", "-j")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    execution = json.loads(proc.stdout)
    assert execution["status"] == "succeeded"
    wf_id = execution["context"]["mistral"]["execution_id"]
    result = execution["result"]
    assert result["greeting"] == "Hello, Levante!"
    assert result["echoed"] == ["one", "two", "three"]
    assert result["branch"] == "many items"
    assert [t["name"] for t in result["tasks"]] == ["greet", "echo_items", "many"]
    assert {t["workflow_execution_id"] for t in result["tasks"]} == {wf_id}
    assert {t["state"] for t in result["tasks"]} == {"SUCCESS"}
    # Every task ran a platform action: one child per action execution (3 items).
    full = system.get(execution["id"])
    children = system.children(execution["id"])
    assert sorted(full["children"]) == sorted(c["id"] for c in children)
    assert sorted(c["action"]["ref"] for c in children) == [
        "core.echo", "core.echo", "core.echo", "core.echo", "core.noop"]
    assert {c["status"] for c in children} == {"succeeded"}
    for child in children:
        _check_child(child, full)
    names = sorted(c["context"]["mistral"]["task_name"] for c in children)
    assert names == ["echo_items", "echo_items", "echo_items", "greet", "many"]
    # The engine saw each child's result, reported back from the platform.
    detail = system.levante("execution", "get", execution["id"], "-dj")
    assert detail.returncode == 0
    assert sum(wf_id in line for line in detail.stdout.splitlines()
               if "workflow_execution_id" in line) >= 3


def test_the_other_branch_through_the_api(system: System) -> None:
    execution = system.run("examples.hello_chain", name="Ops", items=["solo"])
    done = system.wait(execution["id"])
    assert done["status"] == "succeeded", done["result"]
    assert done["result"]["branch"] == "few items"
    assert done["result"]["greeting"] == "Hello, Ops!"
    assert [t["name"] for t in done["result"]["tasks"]] == ["greet", "echo_items", "few"]


def test_a_failing_child_fails_its_task_and_the_workflow(system: System) -> None:
    execution = system.run("hl.fail_chain", code=3)
    done = system.wait(execution["id"])
    assert done["status"] == "failed"
    tasks = {t["name"]: t for t in done["result"]["tasks"]}
    assert tasks["fails"]["state"] == "ERROR" and tasks["after"]["state"] == "SUCCESS"
    failing = next(c for c in system.children(execution["id"])
                   if c["action"]["ref"] == "core.local")
    assert failing["status"] == "failed" and failing["result"]["return_code"] == 3


def test_cancel_of_the_workflow_reaches_the_engine_and_the_running_child(
    system: System
) -> None:
    execution = system.run("hl.slow", seconds=30)
    deadline = time.monotonic() + 20
    while not system.children(execution["id"]):
        assert time.monotonic() < deadline, "no child was created"
        time.sleep(0.05)
    child = system.children(execution["id"])[0]
    system.wait(child["id"], ACTIVE)
    with system.client() as client:
        assert client.delete(f"/executions/{execution['id']}").status_code == 200
    done = system.wait(execution["id"], timeout=20)
    assert done["status"] == "canceled"
    assert system.wait(child["id"], timeout=20)["status"] == "canceled"
    wf_id = done["context"]["mistral"]["execution_id"]
    assert httpx.get(f"{system.engine}/v2/executions/{wf_id}").json()["state"] == "CANCELLED"


def test_child_reports_wait_in_the_outbox_while_the_engine_is_down(system: System) -> None:
    execution = system.run("hl.slow", seconds=1.5)
    deadline = time.monotonic() + 20
    while not system.children(execution["id"]):
        assert time.monotonic() < deadline, "no child was created"
        time.sleep(0.05)
    child = system.children(execution["id"])[0]
    system.kill("engine")
    try:
        assert system.wait(child["id"], timeout=20)["status"] == "succeeded"
        db = make_engine(system.platform_db)
        try:
            deadline = time.monotonic() + 10
            while True:
                [report] = engine_reporting.reports_of(db, child["id"])
                if report["attempts"] >= 2:
                    break
                assert time.monotonic() < deadline, report
                time.sleep(0.1)
            assert report["state"] == "pending" and "ConnectError" in report["last_error"]
            assert system.get(execution["id"])["status"] == "running"
        finally:
            db.dispose()
    finally:
        system.start("engine")
    system.wait_up(f"{system.engine}/v2")
    done = system.wait(execution["id"], timeout=30)
    assert done["status"] == "succeeded", done["result"]
    assert done["result"]["slept"] == "slept"


def test_pause_and_resume_of_the_workflow_reach_the_engine(system: System) -> None:
    execution = system.run("hl.slow", seconds=1)
    deadline = time.monotonic() + 20
    while not system.children(execution["id"]):
        assert time.monotonic() < deadline, "no child was created"
        time.sleep(0.05)
    with system.client() as client:
        answer = client.put(f"/executions/{execution['id']}", json={"status": "pausing"})
        assert answer.status_code == 200, answer.text
    paused = system.wait(execution["id"], frozenset({"paused"}), timeout=20)
    wf_id = paused["context"]["mistral"]["execution_id"]
    assert httpx.get(f"{system.engine}/v2/executions/{wf_id}").json()["state"] == "PAUSED"
    child = system.children(execution["id"])[0]
    assert system.wait(child["id"], timeout=20)["status"] == "succeeded"
    time.sleep(0.5)  # the child's end reaches the engine; the workflow stays paused
    assert system.get(execution["id"])["status"] == "paused"
    with system.client() as client:
        answer = client.put(f"/executions/{execution['id']}", json={"status": "resuming"})
        assert answer.status_code == 200, answer.text
    done = system.wait(execution["id"], timeout=30)
    assert done["status"] == "succeeded", done["result"]
    assert done["result"]["slept"] == "slept"


def test_cancel_of_a_running_child_reaches_its_workflow(system: System) -> None:
    execution = system.run("hl.slow", seconds=30)
    deadline = time.monotonic() + 20
    while not system.children(execution["id"]):
        assert time.monotonic() < deadline, "no child was created"
        time.sleep(0.05)
    child = system.children(execution["id"])[0]
    system.wait(child["id"], ACTIVE)
    with system.client() as client:
        assert client.delete(f"/executions/{child['id']}").status_code == 200
    assert system.wait(child["id"], timeout=20)["status"] == "canceled"
    done = system.wait(execution["id"], timeout=20)
    assert done["status"] == "canceled", done["result"]
    wf_id = done["context"]["mistral"]["execution_id"]
    assert httpx.get(f"{system.engine}/v2/executions/{wf_id}").json()["state"] == "CANCELLED"


def _receiver_reports() -> bool:
    """The receiver hands its status changes to the reports (hook H8)."""
    import inspect

    from levante.platform.workflows import receiver

    return "reports.on_status" in inspect.getsource(receiver)


@pytest.mark.skipif(not _receiver_reports(),
                    reason="a workflow action run as a task needs the receiver to report its "
                           "end to the engine (hook H8 of the handshake-launch report)")
def test_a_workflow_action_run_by_a_task_of_another_workflow(system: System) -> None:
    execution = system.run("hl.outer")
    done = system.wait(execution["id"], timeout=30)
    assert done["status"] == "succeeded", done["result"]
    assert done["result"]["inner"] == "Hello, Nested!"
    [inner] = system.children(execution["id"])
    assert inner["action"]["ref"] == "examples.hello_chain"
    assert inner["status"] == "succeeded"
    _check_child(inner, done)
    assert inner["context"]["mistral"]["execution_id"] != (
        done["context"]["mistral"]["execution_id"])
    grandchildren = system.children(inner["id"])
    assert sorted(c["action"]["ref"] for c in grandchildren) == [
        "core.echo", "core.echo", "core.noop"]
    for child in grandchildren:
        _check_child(child, inner)


def test_secret_parameters_stay_masked_on_the_engine_too(system: System) -> None:
    """A workflow action's secret parameter, passed on to a child's secret parameter:
    masked in the platform's views and in the engine's (the workflow's input and output,
    the task's action execution), the other values shown as they are; and the platform's
    credential in the workflow's env is masked for expressions."""
    secret = "s3cr3t-9f1b-do-not-show"
    execution = system.run("hl.guarded", token=secret)
    done = system.wait(execution["id"])
    assert done["status"] == "succeeded", done
    assert done["parameters"]["token"] == "********"
    (child,) = system.children(execution["id"])
    assert child["parameters"]["token"] == "********"
    # nor in the workflow action's result (its output without `output:` holds its input)
    assert secret not in json.dumps(done) and secret not in json.dumps(child)
    # the platform's credential in the workflow's env: never seen by expressions
    assert done["result"]["seen_credential"] == "******"
    credential = (system.tmp / "pdata" / "engine_api_key").read_text().strip()
    assert credential and credential not in json.dumps(done)
    wf_id = done["context"]["mistral"]["execution_id"]
    engine = f"{system.engine}/v2"
    workflow = httpx.get(f"{engine}/executions/{wf_id}").json()
    assert json.loads(workflow["input"])["token"] != secret
    tasks = httpx.get(f"{engine}/executions/{wf_id}/tasks").json()["tasks"]
    (task,) = tasks
    actions = httpx.get(f"{engine}/tasks/{task['id']}/action_executions").json()
    (action,) = actions["action_executions"]
    shown = json.loads(action["input"])
    assert shown["note"] == "visible" and shown["token"] != secret
    # Nowhere in what the engine's API answers about this workflow.
    for path in (f"/executions/{wf_id}", f"/executions/{wf_id}/tasks",
                 f"/tasks/{task['id']}", f"/tasks/{task['id']}/action_executions",
                 f"/action_executions/{action['id']}"):
        assert secret not in httpx.get(f"{engine}{path}").text, path
