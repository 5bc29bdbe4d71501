"""`st2 execution re-run ID --tasks ... [--no-reset ...]` through the real `st2` CLI: the
named failed tasks run again inside the same workflow execution on the engine, as
StackStorm's mistral-v2 runner did (plain tasks, with-items tasks without reset, a task
whose sub-workflow failed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.handshake_launch.conftest import System, running_system

ROOT = Path(__file__).resolve().parents[3]
ST2 = ROOT / ".venv-clients" / "st2" / "bin" / "st2"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

pytestmark = pytest.mark.skipif(
    not ST2.exists(), reason="st2client is not installed: run `make clients`"
)

RR_PACK = {
    "pack.yaml": "ref: rr\nname: rr\ndescription: re-run tests\nversion: 1.0.0\n"
                 "author: tests\n",
    "actions/flaky.yaml": """---
name: flaky
runner_type: mistral-v2
entry_point: workflows/flaky.yaml
parameters:
  dir: {type: string, required: true}
""",
    "actions/workflows/flaky.yaml": """---
version: '2.0'
rr.flaky:
  input: [dir]
  tasks:
    first:
      action: core.local cmd="mktemp <% $.dir %>/first.XXXXXX"
      on-success: [check]
    check:
      action: core.local cmd="test -e <% $.dir %>/ok"
""",
    "actions/items.yaml": """---
name: items
runner_type: mistral-v2
entry_point: workflows/items.yaml
parameters:
  dir: {type: string, required: true}
""",
    "actions/workflows/items.yaml": """---
version: '2.0'
rr.items:
  input: [dir]
  tasks:
    each:
      with-items: n in <% [1, 2, 3] %>
      action: core.local
      input:
        cmd: >-
          mktemp <% $.dir %>/item<% $.n %>.XXXXXX &&
          { test <% $.n %> -ne 2 || test -e <% $.dir %>/ok; }
""",
    "actions/outer.yaml": """---
name: outer
runner_type: mistral-v2
entry_point: workflows/outer.yaml
parameters:
  dir: {type: string, required: true}
  workflow: {type: string, default: rr.outer}
""",
    "actions/workflows/outer.yaml": """---
version: '2.0'
rr.outer:
  input: [dir]
  tasks:
    sub:
      workflow: rr.inner
      input:
        dir: <% $.dir %>
rr.inner:
  input: [dir]
  tasks:
    check:
      action: core.local cmd="test -e <% $.dir %>/ok"
""",
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                                marks=pytest.mark.postgres)])
def system(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[System]:
    yield from running_system(request.param, tmp_path_factory, packs={"rr": RR_PACK})


def _st2(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ST2_", "LEVANTE_"))}
    env["ST2_API_KEY"] = system.key
    proc = subprocess.run([str(ST2), "--api-url", f"{system.api}/v1", *args],
                          capture_output=True, text=True, env=env, timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode,
                                       ANSI.sub("", proc.stdout), ANSI.sub("", proc.stderr))


def _run(system: System, *args: str) -> dict[str, object]:
    ran = _st2(system, *args, "-j")  # (exit code 1 when the execution failed)
    assert ran.stdout.strip().startswith("{"), ran.stdout + ran.stderr
    found: dict[str, object] = json.loads(ran.stdout)
    assert ran.returncode == (0 if found["status"] == "succeeded" else 1)
    return found


def _wf_id(system: System, execution_id: str) -> str:
    return str(system.get(execution_id)["context"]["mistral"]["execution_id"])


def _markers(folder: Path, prefix: str) -> int:
    return len(list(folder.glob(f"{prefix}.*")))


def test_rerun_of_a_failed_plain_task_in_the_same_workflow_execution(
        system: System, tmp_path: Path) -> None:
    first = _run(system, "run", "rr.flaky", f"dir={tmp_path}")
    assert first["status"] == "failed"
    wf_id = _wf_id(system, str(first["id"]))
    (tmp_path / "ok").touch()
    again = _run(system, "execution", "re-run", str(first["id"]), "--tasks", "check")
    assert again["status"] == "succeeded", again
    assert again["id"] != first["id"]
    assert system.get(str(again["id"]))["context"]["re-run"] == {
        "ref": first["id"], "tasks": ["check"], "reset": ["check"]}
    assert _wf_id(system, str(again["id"])) == wf_id  # the same workflow execution
    assert _markers(tmp_path, "first") == 1  # the task that succeeded did not run again
    assert system.get(str(first["id"]))["status"] == "failed"
    # Bad requests: a task that is not there fails the re-run, saying so; a task of an
    # action that is not a workflow is refused.
    missing = _run(system, "execution", "re-run", str(first["id"]), "--tasks", "nope")
    assert missing["status"] == "failed"
    assert "no task 'nope'" in missing["result"]["error"]  # type: ignore[index]
    with system.client() as client:
        answer = client.post(f"/executions/{first['id']}/re_run", json={"tasks": "check"})
        assert answer.status_code == 400 and "'tasks'" in answer.text
        answer = client.post(f"/executions/{first['id']}/re_run",
                             json={"tasks": ["check"], "reset": ["other"]})
        assert answer.status_code == 400 and "'reset'" in answer.text


def test_rerun_without_reset_runs_only_the_failed_items(
        system: System, tmp_path: Path) -> None:
    first = _run(system, "run", "rr.items", f"dir={tmp_path}")
    assert first["status"] == "failed"
    assert [_markers(tmp_path, f"item{n}") for n in (1, 2, 3)] == [1, 1, 1]
    (tmp_path / "ok").touch()
    again = _run(system, "execution", "re-run", str(first["id"]), "--tasks", "each",
                 "--no-reset", "each")
    assert again["status"] == "succeeded", again
    assert _wf_id(system, str(again["id"])) == _wf_id(system, str(first["id"]))
    assert [_markers(tmp_path, f"item{n}") for n in (1, 2, 3)] == [1, 2, 1]
    # With reset (the default), every item runs again.
    (tmp_path / "ok").unlink()
    second = _run(system, "run", "rr.items", f"dir={tmp_path}")
    assert second["status"] == "failed"
    (tmp_path / "ok").touch()
    reset = _run(system, "execution", "re-run", str(second["id"]), "--tasks", "each")
    assert reset["status"] == "succeeded", reset
    assert [_markers(tmp_path, f"item{n}") for n in (1, 2, 3)] == [3, 4, 3]


def test_rerun_of_a_task_whose_sub_workflow_failed(system: System, tmp_path: Path) -> None:
    first = _run(system, "run", "rr.outer", f"dir={tmp_path}")
    assert first["status"] == "failed"
    (tmp_path / "ok").touch()
    again = _run(system, "execution", "re-run", str(first["id"]), "--tasks", "sub")
    assert again["status"] == "succeeded", again
    assert _wf_id(system, str(again["id"])) == _wf_id(system, str(first["id"]))
