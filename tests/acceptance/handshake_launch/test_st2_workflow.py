"""The real `st2` CLI running a workflow action: its tasks in the result, and
`st2 execution get <id> -dj | grep workflow_execution_id` finding the engine's id."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.harness import System

ROOT = Path(__file__).resolve().parents[3]
ST2 = ROOT / ".venv-clients" / "st2" / "bin" / "st2"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

pytestmark = pytest.mark.skipif(
    not ST2.exists(), reason="st2client is not installed: run `make clients`"
)


def _st2(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ST2_", "LEVANTE_"))}
    env["ST2_API_KEY"] = system.key
    proc = subprocess.run([str(ST2), "--api-url", f"{system.api}/v1", *args],
                          capture_output=True, text=True, env=env, timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode,
                                       ANSI.sub("", proc.stdout), ANSI.sub("", proc.stderr))


def test_st2_runs_a_workflow_action_and_finds_the_engine_id(system: System) -> None:
    ran = _st2(system, "run", "examples.hello_chain", "name=St2", "-j")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    execution = json.loads(ran.stdout)
    assert execution["status"] == "succeeded"
    assert [t["name"] for t in execution["result"]["tasks"]] == ["greet", "echo_items", "many"]
    assert execution["result"]["greeting"] == "Hello, St2!"
    got = _st2(system, "execution", "get", execution["id"], "-dj")
    assert got.returncode == 0, got.stderr
    wf_id = system.get(execution["id"])["context"]["mistral"]["execution_id"]
    found = [line for line in got.stdout.splitlines() if "workflow_execution_id" in line]
    assert len(found) >= 3 and all(wf_id in line for line in found)
