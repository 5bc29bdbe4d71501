"""Inquiries through the real `st2` CLI on the whole system (engine and platform as
separate processes): a Mistral workflow and an action chain that ask, pause, and go on
after `st2 inquiry respond`; a bad answer refused with a clear message; an inquiry that
nobody answers timing out (ttl units of one second here) and failing its workflow."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.acceptance.handshake_launch.conftest import System, running_system
from tests.acceptance.handshake_launch.test_st2_workflow import ST2, _st2

pytestmark = pytest.mark.skipif(
    not ST2.exists(), reason="st2client is not installed: run `make clients`"
)

ASKS = {
    "pack.yaml": "ref: asks\nname: asks\ndescription: inquiry tests\nversion: 1.0.0\n"
                 "author: tests\n",
    "actions/approve.yaml": """---
name: approve
runner_type: mistral-v2
entry_point: workflows/approve.yaml
parameters:
  ttl: {type: integer, default: 600}
""",
    "actions/workflows/approve.yaml": """---
version: '2.0'
asks.approve:
  input: [ttl]
  output:
    approved: <% $.approved %>
    said: <% $.said %>
  tasks:
    ask:
      action: core.ask
      input:
        route: ops
        ttl: <% $.ttl %>
        schema:
          type: object
          properties:
            approved: {type: boolean, description: Go ahead}
          required: [approved]
      publish:
        approved: <% task(ask).result.response.approved %>
      on-success: [say]
    say:
      action: core.local
      input:
        cmd: echo approved=<% $.approved %>
      publish:
        said: <% task(say).result.stdout.trim() %>
""",
    "actions/gate.yaml": """---
name: gate
runner_type: action-chain
entry_point: chains/gate.yaml
""",
    "actions/chains/gate.yaml": """---
chain:
  - name: ask
    ref: core.ask
    params:
      users: [admin]
    on-success: after
  - name: after
    ref: core.local
    params:
      cmd: "echo continue={{ ask.response.continue }}"
""",
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                                marks=pytest.mark.postgres)])
def asks(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[System]:
    yield from running_system(request.param, tmp_path_factory, packs={"asks": ASKS}, env={
        "LEVANTE_INQUIRY_TTL_UNIT": "1", "LEVANTE_INQUIRY_SWEEP_INTERVAL": "0.2"})


def _pending_child(system: System, parent: str, timeout: float = 30,
                   statuses: frozenset[str] = frozenset({"pending"})) -> dict[str, Any]:
    """The ask under ``parent`` (at any depth of the tree), once it waits (or is in one
    of ``statuses``)."""
    deadline = time.monotonic() + timeout
    while True:
        with system.client() as client:
            found = client.get(f"/executions/{parent}/children", params={"depth": -1}).json()
        asks = [c for c in found if c["action"]["ref"] == "core.ask"]
        if asks and asks[0]["status"] in statuses:
            return asks[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no pending ask under {parent}: {found}")
        time.sleep(0.1)


def test_a_mistral_workflow_asks_pauses_and_resumes_on_st2_inquiry_respond(
        asks: System) -> None:
    root = asks.run("asks.approve")
    ask = _pending_child(asks, root["id"])
    assert asks.wait(root["id"], frozenset({"paused"}))["status"] == "paused"

    listed = _st2(asks, "inquiry", "list")
    assert listed.returncode == 0, listed.stderr
    assert ask["id"] in listed.stdout and "ops" in listed.stdout
    got = _st2(asks, "inquiry", "get", ask["id"], "-j")
    assert got.returncode == 0, got.stderr
    shown = json.loads(got.stdout)
    assert shown["schema"]["required"] == ["approved"] and shown["ttl"] == 600
    pending = json.loads(_st2(asks, "execution", "get", ask["id"], "-j").stdout)
    assert pending["status"] == "pending"

    bad = _st2(asks, "inquiry", "respond", ask["id"], "-r", '{"approved": "nope"}')
    assert bad.returncode != 0
    assert "response.approved: 'nope' is not of type 'boolean'" in bad.stdout + bad.stderr
    assert asks.get(root["id"])["status"] == "paused"

    good = _st2(asks, "inquiry", "respond", ask["id"], "-r", '{"approved": true}')
    assert good.returncode == 0, good.stdout + good.stderr
    assert f"Response accepted for inquiry {ask['id']}" in good.stdout
    done = asks.wait(root["id"], timeout=60)
    assert done["status"] == "succeeded", done["result"]
    assert done["result"]["approved"] is True
    assert done["result"]["said"] == "approved=True"
    answered = asks.get(ask["id"])
    assert answered["status"] == "succeeded"
    assert answered["result"]["response"] == {"approved": True}


def test_an_action_chain_asks_pauses_and_resumes(asks: System) -> None:
    chain = asks.run("asks.gate")
    ask = _pending_child(asks, chain["id"])
    assert asks.wait(chain["id"], frozenset({"paused"}))["status"] == "paused"
    listed = asks.levante("inquiry", "list")
    assert listed.returncode == 0 and ask["id"] in listed.stdout, listed.stderr
    got = asks.levante("inquiry", "get", ask["id"], "-j")
    assert json.loads(got.stdout)["users"] == ["admin"]
    answered = asks.levante("inquiry", "respond", ask["id"], "-r", '{"continue": false}')
    assert answered.returncode == 0, answered.stderr
    assert f"Response accepted for inquiry {ask['id']}." in answered.stdout
    done = asks.wait(chain["id"], timeout=60)
    assert done["status"] == "succeeded", done["result"]
    assert [t["name"] for t in done["result"]["tasks"]] == ["ask", "after"]
    assert done["result"]["tasks"][1]["result"]["stdout"].strip() == "continue=False"
    # st2 reads the inquiry first, and takes the 400 of an answered one for "no such".
    again = _st2(asks, "inquiry", "respond", ask["id"], "-r", '{"continue": true}')
    assert again.returncode != 0 and ask["id"] in again.stdout + again.stderr
    with asks.client() as client:
        closed = client.put(f"/inquiries/{ask['id']}", json={"response": {"continue": True}})
    assert closed.status_code == 400
    assert "already been responded to" in closed.json()["faultstring"]


def test_an_unanswered_inquiry_times_out_and_fails_its_workflow(asks: System) -> None:
    root = asks.run("asks.approve", ttl=2)  # two units: two seconds here
    ask = _pending_child(asks, root["id"], statuses=frozenset({"pending", "timeout"}))
    done = asks.wait(root["id"], timeout=60)
    assert done["status"] == "failed", done["result"]
    assert asks.get(ask["id"])["status"] == "timeout"
    with asks.client() as client:
        late = client.put(f"/inquiries/{ask['id']}", json={"response": {"approved": True}})
    assert late.status_code == 400 and "timed out" in late.json()["faultstring"]


def _read_until(fd: int, wanted: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while wanted not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:  # the process ended and closed the terminal
                break
    return seen


def test_st2_inquiry_respond_asks_for_each_property_on_a_terminal(asks: System) -> None:
    # (st2client's form cannot show a property's description with the prompt_toolkit it
    # installs: `prompt() got an unexpected keyword argument 'get_bottom_toolbar_tokens'`.)
    ask = asks.run("core.ask", schema={  # on its own: no workflow to pause
        "type": "object", "properties": {"continue": {"type": "boolean"}},
        "required": ["continue"]})
    asks.wait(ask["id"], frozenset({"pending"}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ST2_", "LEVANTE_"))}
    env.update(ST2_API_KEY=asks.key, TERM="xterm")
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(ST2), "--api-url", f"{asks.api}/v1", "inquiry", "respond",
                             ask["id"]], stdin=slave, stdout=slave, stderr=slave, env=env,
                            close_fds=True)
    os.close(slave)
    try:
        prompt = _read_until(master, b"boolean", 60)
        assert b"continue (boolean)" in prompt, prompt
        os.write(master, b"y\r")
        said = _read_until(master, b"Response accepted", 60)
        assert proc.wait(30) == 0, said
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert b"Response accepted for inquiry" in said
    done = asks.get(ask["id"])
    assert done["status"] == "succeeded" and done["result"]["response"] == {"continue": True}
