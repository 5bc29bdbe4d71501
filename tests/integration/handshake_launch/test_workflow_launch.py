"""A workflow action launched on a real engine over HTTP (workflow_launch), its events
received by the platform: the execution ends with the workflow's output and tasks."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from pathlib import Path

import httpx

from levante.platform.core.packs import ActionMeta
from levante.platform.runners.base import RunRequest
from levante.platform.workflows import launch as workflow_launch
from tests.integration.handshake.support import platform_execution, platform_row, wait_for
from tests.integration.handshake_launch.conftest import Loopback

WORKFLOW = """---
version: '2.0'
launch_test.chain:
  input:
    - who
    - count: 2
  output:
    greeting: <% $.greeting %>
  tasks:
    first:
      action: std.echo output="Hello, <% $.who %>"
      publish:
        greeting: <% task().result %>
      on-success: [second]
    second:
      action: std.noop
"""


def _action(tmp_path: Path, text: str = WORKFLOW, ref: str = "tests.chain") -> ActionMeta:
    path = tmp_path / "chain.yaml"
    path.write_text(text, encoding="utf-8")
    return ActionMeta(ref=ref, pack="tests", name="chain", description="",
                      runner_type="mistral-v2", entry_point=str(path), enabled=True,
                      parameters={"who": {"type": "string"}})


def _claimed_execution(loopback: Loopback) -> str:
    ex_id = platform_execution(loopback.db, None)
    from levante.platform.core import store

    store.transition(loopback.db, ex_id, ["running"], "running",
                     {"claimed_by": "runner-1", "lease_until": store.now()})
    return ex_id


def test_a_workflow_is_registered_started_and_ends_on_the_platform(
    loopback: Loopback, tmp_path: Path
) -> None:
    loopback.start_engine()
    loopback.start_notifier()
    loopback.start_platform()
    ex_id = _claimed_execution(loopback)
    request = RunRequest(ex_id, _action(tmp_path), {"who": "Ada", "context": {"count": 3},
                                                    "workflow": None})
    outcome = asyncio.run(loopback.launcher.launch(request))
    wf_id = workflow_launch.engine_execution_id(ex_id)
    assert outcome.status == "running", outcome.result
    row = platform_row(loopback.db, ex_id)
    assert row["context"]["mistral"]["execution_id"] == wf_id
    assert row["claimed_by"] is None and row["lease_until"] is None
    wait_for(lambda: platform_row(loopback.db, ex_id)["status"] == "succeeded", 10.0)
    row = platform_row(loopback.db, ex_id)
    assert row["result"]["greeting"] == "Hello, Ada"
    assert [t["name"] for t in row["result"]["tasks"]] == ["first", "second"]
    assert {t["workflow_execution_id"] for t in row["result"]["tasks"]} == {wf_id}
    assert row["context"]["mistral"]["execution_id"] == wf_id
    # What the engine was given: the input, the platform's env and the subscription.
    engine = httpx.get(f"{loopback.engine_url}/v2/executions/{wf_id}", timeout=5,
                       headers=loopback.engine_headers).json()
    assert json.loads(engine["input"]) == {"who": "Ada", "count": 3}
    params = json.loads(engine["params"])
    assert params["notify"] == [{"type": "levante"}]
    levante = params["env"]["levante"]
    assert levante["execution_id"] == ex_id
    assert levante["callback_url"] == f"{loopback.api_url}/v1/webhooks/levante"
    assert levante["credential"] == "******"  # the engine's API never shows it
    engine_key = (loopback.config.data_dir / workflow_launch.ENGINE_KEY_FILE).read_text()
    assert engine_key.strip() and engine_key.strip() != loopback.key
    assert params["env"]["st2_execution_id"] == ex_id


def test_a_changed_definition_is_updated_and_a_second_launch_reuses_it(
    loopback: Loopback, tmp_path: Path
) -> None:
    loopback.start_engine()
    first = _claimed_execution(loopback)
    assert asyncio.run(loopback.launcher.launch(
        RunRequest(first, _action(tmp_path), {"who": "A"}))).status == "running"
    changed = WORKFLOW.replace("Hello, ", "Bye, ")
    second = _claimed_execution(loopback)
    assert asyncio.run(loopback.launcher.launch(
        RunRequest(second, _action(tmp_path, changed), {"who": "B"}))).status == "running"
    definition = httpx.get(f"{loopback.engine_url}/v2/workflows/launch_test.chain",
                           timeout=5, headers=loopback.engine_headers).json()["definition"]
    assert "Bye, " in definition


def test_a_bad_definition_or_an_engine_down_fails_clearly(
    loopback: Loopback, tmp_path: Path
) -> None:
    ex_id = _claimed_execution(loopback)
    bad = _action(tmp_path, "version: '2.0'\nwf: [not, a, workflow\n")
    outcome = asyncio.run(loopback.launcher.launch(RunRequest(ex_id, bad, {})))
    assert outcome.status == "failed"
    assert "is not valid YAML" in outcome.result["error"]
    # No engine is listening on its port: tried again for launch_retry_seconds, then the
    # launch fails (nothing can have reached the engine).
    loopback.launcher = workflow_launch.Launcher(
        dataclasses.replace(loopback.launcher.settings, retry_seconds=0.6))
    began = time.monotonic()
    outcome = asyncio.run(loopback.launcher.launch(RunRequest(ex_id, _action(tmp_path), {})))
    assert 0.6 <= time.monotonic() - began < 5
    assert outcome.status == "failed"
    assert "cannot be reached" in outcome.result["error"]
    assert "gave up after trying for 0.6 s" in outcome.result["error"]
    assert loopback.key not in json.dumps(outcome.result)


def test_the_workflow_to_run_in_a_document_of_several(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text("version: '2.0'\nwf_a:\n  tasks: {}\nwf_b:\n  tasks: {}\n")
    assert workflow_launch.read_definition(str(path), "wf_b").workflow_name == "wf_b"
    try:
        workflow_launch.read_definition(str(path))
    except workflow_launch.LaunchError as exc:
        assert "several workflows" in str(exc) and "wf_a, wf_b" in str(exc)
    else:
        raise AssertionError("a document of two workflows needs the 'workflow' parameter")
    book = tmp_path / "book.yaml"
    book.write_text("version: '2.0'\nname: wb\nworkflows:\n  main:\n    tasks: {}\n")
    found = workflow_launch.read_definition(str(book), "main")
    assert (found.workbook, found.workflow_name) == ("wb", "wb.main")
