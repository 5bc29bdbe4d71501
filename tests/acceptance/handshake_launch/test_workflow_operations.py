"""Operations on workflow executions through the real `st2` CLI, as StackStorm's
mistral-v2 runner did them: `st2 execution re-run ID --tasks ... [--no-reset ...]` runs
the named failed tasks again inside the same workflow execution on the engine (plain
tasks, with-items tasks without reset, a task whose sub-workflow failed); cancel shows
`canceling` until what the workflow started has ended, then `canceled`; pause shows
`pausing` while tasks run, then `paused`, down the tree of workflow actions; a child
that pauses pauses its parent; resume resumes the whole tree."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.handshake_launch.conftest import running_system
from tests.harness import System

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
    "actions/leaf.yaml": """---
name: leaf
runner_type: mistral-v2
entry_point: workflows/leaf.yaml
parameters:
  dir: {type: string, required: true}
""",
    "actions/workflows/leaf.yaml": """---
version: '2.0'
rr.leaf:
  input: [dir]
  tasks:
    hold:
      action: core.local
      input:
        cmd: while [ ! -e <% $.dir %>/go ]; do sleep 0.05; done
        timeout: 60
""",
    "actions/tree.yaml": """---
name: tree
runner_type: mistral-v2
entry_point: workflows/tree.yaml
parameters:
  dir: {type: string, required: true}
""",
    "actions/workflows/tree.yaml": """---
version: '2.0'
rr.tree:
  input: [dir]
  tasks:
    leaf:
      action: rr.leaf dir=<% $.dir %>
      on-success: [last]
    last:
      action: core.local cmd="mktemp <% $.dir %>/last.XXXXXX"
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
        plain = system.run("core.noop")["id"]
        answer = client.post(f"/executions/{plain}/re_run", json={"tasks": ["check"]})
        assert answer.status_code == 400 and "only the tasks of a workflow" in answer.text


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


def _holding(system: System, folder: Path) -> tuple[str, str, str]:
    """rr.tree started, its child rr.leaf running its task that waits for ``go``:
    (tree, leaf, the leaf's task action) ids."""
    tree = system.run("rr.tree", dir=str(folder))["id"]
    deadline = time.monotonic() + 30
    while True:
        leaves = system.children(tree)
        holds = system.children(leaves[0]["id"]) if leaves else []
        if holds and holds[0]["status"] == "running":
            return str(tree), str(leaves[0]["id"]), str(holds[0]["id"])
        assert time.monotonic() < deadline, f"tree {tree} did not start its leaf"
        time.sleep(0.05)


def _engine_paused(system: System, execution_id: str) -> dict[str, object]:
    """The execution once the engine's event said its workflow is PAUSED."""
    deadline = time.monotonic() + 30
    while True:
        found = system.get(execution_id)
        if (found["result"].get("extra") or {}).get("state") == "PAUSED":
            return found
        assert time.monotonic() < deadline, f"{execution_id} not paused on the engine"
        time.sleep(0.05)


def _statuses(system: System, execution_id: str) -> list[str]:
    return [entry["status"] for entry in system.get(execution_id)["log"]]


def test_pause_shows_pausing_down_the_tree_then_paused_and_resume_resumes_it(
        system: System, tmp_path: Path) -> None:
    tree, leaf, hold = _holding(system, tmp_path)
    paused = _st2(system, "execution", "pause", tree)
    assert paused.returncode == 0, paused.stdout + paused.stderr
    # The leaf's task still runs: both stay pausing (the pause went down to the leaf).
    # (Both paused on their engines, yet pausing while the leaf's task runs.)
    assert _engine_paused(system, leaf)["status"] == "pausing"
    assert _engine_paused(system, tree)["status"] == "pausing"
    (tmp_path / "go").touch()
    assert system.wait(hold)["status"] == "succeeded"
    system.wait(leaf, frozenset({"paused"}))
    system.wait(tree, frozenset({"paused"}))
    assert _markers(tmp_path, "last") == 0
    resumed = _st2(system, "execution", "resume", tree)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert system.wait(tree)["status"] == "succeeded"
    assert system.get(leaf)["status"] == "succeeded"
    assert _markers(tmp_path, "last") == 1
    for execution_id in (tree, leaf):
        statuses = _statuses(system, execution_id)
        assert statuses.index("pausing") < statuses.index("paused") < \
            statuses.index("resuming") < statuses.index("succeeded"), statuses


def test_a_child_that_pauses_pauses_its_parent(system: System, tmp_path: Path) -> None:
    tree, leaf, _hold = _holding(system, tmp_path)
    paused = _st2(system, "execution", "pause", leaf)
    assert paused.returncode == 0, paused.stdout + paused.stderr
    system.wait(tree, frozenset({"pausing"}))
    assert _engine_paused(system, leaf)["status"] == "pausing"
    (tmp_path / "go").touch()
    system.wait(leaf, frozenset({"paused"}))
    system.wait(tree, frozenset({"paused"}))
    # Resume of the whole tree from the top (the case that once stayed "resuming").
    resumed = _st2(system, "execution", "resume", tree)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert system.wait(tree)["status"] == "succeeded"
    assert system.get(leaf)["status"] == "succeeded"


def test_cancel_shows_canceling_then_canceled_with_the_children(
        system: System, tmp_path: Path) -> None:
    tree, leaf, hold = _holding(system, tmp_path)
    canceled = _st2(system, "execution", "cancel", tree)
    assert canceled.returncode == 0, canceled.stdout + canceled.stderr
    assert system.wait(tree)["status"] == "canceled"
    assert system.wait(leaf)["status"] == "canceled"
    assert system.wait(hold)["status"] == "canceled"
    for execution_id in (tree, leaf):
        statuses = _statuses(system, execution_id)
        assert statuses[-2:] == ["canceling", "canceled"], statuses
    # Canceled only once what it started had ended.
    ends = {i: system.get(i)["end_timestamp"] for i in (tree, leaf, hold)}
    assert ends[tree] >= ends[leaf] >= ends[hold]
    assert _markers(tmp_path, "last") == 0
