"""Under `levante up` the engine API is authenticated and everything keeps working with no
set-up: the platform launches, reports to, cancels and tracks workflows with its own key;
children run as the user who started the workflow; the real `mistral` CLI works through
the engine's Keystone endpoint with an API key, and gets 401 without one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, levante_bin

ROOT = Path(__file__).resolve().parents[3]
MISTRAL = ROOT / ".venv-clients" / "mistral" / "bin" / "mistral"
DONE = frozenset({"succeeded", "failed", "timeout", "abandoned", "canceled"})
PACK = {
    "pack.yaml": "ref: upauth\nname: upauth\ndescription: auth tests\nversion: 1.0.0\n"
                 "author: tests\n",
    "actions/slow.yaml": """---
name: slow
runner_type: mistral-v2
entry_point: workflows/slow.yaml
""",
    "actions/workflows/slow.yaml": """---
version: '2.0'
upauth.slow:
  tasks:
    wait:
      action: core.local cmd="sleep 30"
""",
    "actions/pausable.yaml": """---
name: pausable
runner_type: mistral-v2
entry_point: workflows/pausable.yaml
""",
    "actions/workflows/pausable.yaml": """---
version: '2.0'
upauth.pausable:
  tasks:
    first:
      action: core.local cmd="sleep 1"
      on-success: [second]
    second:
      action: core.echo message="resumed"
""",
}
ENGINE_WORKFLOWS = """---
version: '2.0'
upauth_engine:
  tasks:
    shell:
      action: core.local cmd="echo from-the-engine"
      on-success: [nested]
    nested:
      workflow: upauth_sub
upauth_sub:
  tasks:
    say:
      action: core.echo message="nested"
"""


@dataclass
class Up:
    data: Path
    api: str
    engine: str
    admin_key: str
    home: Path
    log: Path

    def key_for(self, user: str) -> str:
        answer = httpx.post(f"{self.api}/v1/apikeys", json={"user": user},
                            headers={"St2-Api-Key": self.admin_key}, timeout=30)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["key"])

    def platform(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=f"{self.api}/v1", headers={"St2-Api-Key": key},
                            timeout=30)

    def wait(self, execution_id: str, statuses: frozenset[str] = DONE,
             timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.platform(self.admin_key) as client:
            while True:
                found: dict[str, Any] = client.get(f"/executions/{execution_id}").json()
                if found["status"] in statuses:
                    return found
                assert time.monotonic() < deadline, found
                time.sleep(0.1)

    def workflow_id(self, execution_id: str, timeout: float = 30) -> str:
        """The engine's id of a workflow execution, once its launch has recorded it
        (`running` comes with the runner's claim, a moment before)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.wait(execution_id, frozenset({"running"}))
            wf_id = ((found.get("context") or {}).get("mistral") or {}).get("execution_id")
            if wf_id:
                return str(wf_id)
            assert time.monotonic() < deadline, found
            time.sleep(0.05)

    def executions(self) -> list[dict[str, Any]]:
        with self.platform(self.admin_key) as client:
            found: list[dict[str, Any]] = client.get("/executions",
                                                     params={"limit": 200}).json()
        return found

    def mistral(self, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
        auth = ["--os-auth-url", f"{self.engine}/identity/v3", "--os-auth-token", key] if key \
            else []
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home),
               "LANG": "C.UTF-8"}
        return subprocess.run([str(MISTRAL), "--os-mistral-url", f"{self.engine}/v2", *auth,
                               *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    tmp = tmp_path_factory.mktemp("up-auth")
    for name, text in PACK.items():
        path = tmp / "packs" / "upauth" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    api_port, engine_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEVANTE_", "ST2_"))}
    env.update(PYTHONUNBUFFERED="1", LEVANTE_CONTENT_PACKS_PATHS=str(tmp / "packs"),
               LEVANTE_RESULTSTRACKER_SILENCE_TIMEOUT="2")
    out = tmp / "up.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [levante_bin("levante"), "up", "--data-dir", str(tmp / "data"),
             "--api-port", str(api_port), "--engine-port", str(engine_port)],
            stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=tmp,
        )
    try:
        deadline = time.monotonic() + 90
        while "Example workflow" not in out.read_text():
            assert proc.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.1)
        assert " succeeded in " in out.read_text().split("Example workflow", 1)[1]
        key = (tmp / "data" / "api_key").read_text().strip()
        yield Up(tmp / "data", f"http://127.0.0.1:{api_port}",
                 f"http://127.0.0.1:{engine_port}", key, tmp, out)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_the_engine_refuses_requests_without_a_key(up: Up) -> None:
    answer = httpx.get(f"{up.engine}/v2/executions", timeout=30)
    assert answer.status_code == 401
    assert "API key or token is required" in answer.json()["faultstring"]
    assert httpx.get(f"{up.engine}/v2", timeout=30).status_code == 200
    for header in ("X-Auth-Token", "St2-Api-Key"):
        answer = httpx.get(f"{up.engine}/v2/executions", headers={header: up.admin_key},
                           timeout=30)
        assert answer.status_code == 200
    # the service keys are kept in the data folder for the owner only
    for name in ("platform_api_key", "engine_api_key"):
        assert (up.data / name).stat().st_mode & 0o777 == 0o600


def test_a_platform_user_runs_a_workflow_action_and_its_children_are_theirs(up: Up) -> None:
    alice = up.key_for("alice")
    with up.platform(alice) as client:
        answer = client.post("/executions", json={"action": "examples.hello_chain"})
    assert answer.status_code == 201, answer.text
    done = up.wait(answer.json()["id"])
    assert done["status"] == "succeeded", done
    children = [e for e in up.executions() if e.get("parent") == done["id"]]
    assert len(children) == 5
    assert {c["context"]["user"] for c in children} == {"alice"}


def test_cancel_goes_through_to_the_engine(up: Up) -> None:
    carol = up.key_for("carol")
    with up.platform(carol) as client:
        started = client.post("/executions", json={"action": "upauth.slow"}).json()
        wf_id = up.workflow_id(started["id"])
        deadline = time.monotonic() + 30
        while not [e for e in up.executions() if e.get("parent") == started["id"]]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        (child,) = [e for e in up.executions() if e.get("parent") == started["id"]]
        assert child["context"]["user"] == "carol"
        # silent for longer than silence_timeout: the results tracker polls the engine
        while f"[{started['id']}] no event for" not in up.log.read_text():
            assert time.monotonic() < deadline, "the results tracker did not follow it"
            time.sleep(0.1)
        time.sleep(1.0)  # a few polls
        assert client.delete(f"/executions/{started['id']}").status_code in (200, 204)
    assert up.wait(started["id"])["status"] == "canceled"
    deadline = time.monotonic() + 30
    while True:
        state = httpx.get(f"{up.engine}/v2/executions/{wf_id}", timeout=30,
                          headers={"X-Auth-Token": up.admin_key}).json()["state"]
        if state == "CANCELLED":
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.1)


def _engine_state(up: Up, wf_id: str) -> str:
    answer = httpx.get(f"{up.engine}/v2/executions/{wf_id}", timeout=30,
                       headers={"X-Auth-Token": up.admin_key})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["state"])


def test_pause_and_resume_go_through_to_the_engine(up: Up) -> None:
    dora = up.key_for("dora")
    with up.platform(dora) as client:
        started = client.post("/executions", json={"action": "upauth.pausable"}).json()
        deadline = time.monotonic() + 30
        while not [e for e in up.executions() if e.get("parent") == started["id"]]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        answer = client.put(f"/executions/{started['id']}", json={"status": "pausing"})
        assert answer.status_code == 200, answer.text
        paused = up.wait(started["id"], frozenset({"paused"}))
        wf_id = paused["context"]["mistral"]["execution_id"]
        assert _engine_state(up, wf_id) == "PAUSED"
        (child,) = [e for e in up.executions() if e.get("parent") == started["id"]]
        assert up.wait(child["id"])["status"] == "succeeded"
        answer = client.put(f"/executions/{started['id']}", json={"status": "resuming"})
        assert answer.status_code == 200, answer.text
    done = up.wait(started["id"])
    assert done["status"] == "succeeded", done
    assert _engine_state(up, wf_id) == "SUCCESS"
    children = [e for e in up.executions() if e.get("parent") == started["id"]]
    assert {c["context"]["user"] for c in children} == {"dora"}
    assert len(children) == 2


@pytest.mark.skipif(not MISTRAL.exists(), reason="python-mistralclient is not installed")
def test_the_mistral_cli_through_keystone_runs_as_the_key_owner(up: Up) -> None:
    refused = up.mistral("workflow-list")
    assert refused.returncode != 0
    assert "Unauthorized" in refused.stdout + refused.stderr
    bob = up.key_for("bob")
    definitions = up.home / "engine.yaml"
    definitions.write_text(ENGINE_WORKFLOWS)
    made = up.mistral("workflow-create", str(definitions), "-f", "json", key=bob)
    assert made.returncode == 0, made.stdout + made.stderr
    listed = up.mistral("workflow-list", "-f", "json", key=bob)
    assert listed.returncode == 0, listed.stderr
    assert {"examples.hello_chain", "upauth_engine"} <= {w["Name"]
                                                         for w in json.loads(listed.stdout)}
    started = up.mistral("execution-create", "upauth_engine", "-f", "json", key=bob)
    assert started.returncode == 0, started.stdout + started.stderr
    fields = json.loads(started.stdout)
    wf_id = fields["ID"] if isinstance(fields, dict) else {
        r["Field"]: r["Value"] for r in fields}["ID"]
    deadline = time.monotonic() + 60
    while True:
        shown = up.mistral("execution-get", wf_id, "-f", "json", key=bob)
        assert shown.returncode == 0, shown.stderr
        state = json.loads(shown.stdout)["State"]
        if state != "RUNNING":
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert state == "SUCCESS", shown.stdout
    children = [e for e in up.executions()
                if ((e.get("context") or {}).get("mistral") or {}).get("root_execution_id")
                == wf_id]
    assert {c["action"]["ref"] for c in children} == {"core.local", "core.echo"}
    assert {c["context"]["user"] for c in children} == {"bob"}
    assert all(c["status"] == "succeeded" for c in children)


def test_no_call_between_the_services_was_refused(up: Up) -> None:
    """Launches, reports, commands and the tracker's polls all authenticated: nothing was
    refused. (Whether the tracker polled is checked where it happens, in the cancel test:
    under xdist this test may run in a process of its own.)"""
    text = up.log.read_text()
    assert "Upgraded database" in text  # the log of this `levante up`
    for refused in ("HTTP 401", " 401 ", "Unauthorized", "could not poll",
                    "refused by the engine"):
        assert refused not in text, refused
