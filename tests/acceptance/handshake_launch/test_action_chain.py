"""The `action-chain` runner through the real `st2` CLI: a pack of chains in StackStorm's
style (vars, params Jinja, publish, on-failure, default), nested chains, a chain calling a
workflow and a workflow calling a chain; pause, resume and cancel between nodes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.acceptance.handshake_launch.conftest import running_system
from tests.acceptance.handshake_launch.test_st2_workflow import ST2, _st2
from tests.harness import System

pytestmark = pytest.mark.skipif(
    not ST2.exists(), reason="st2client is not installed: run `make clients`"
)


def _action(name: str, runner: str, entry: str, params: str = "{}") -> str:
    return (f"---\nname: {name}\nrunner_type: {runner}\nentry_point: {entry}\n"
            f"parameters: {params}\n")


CHAINS = {
    "pack.yaml": "ref: chains\nname: chains\ndescription: chain tests\nversion: 1.0.0\n"
                 "author: tests\n",
    "actions/basic.yaml": _action("basic", "action-chain", "chains/basic.yaml",
                                  "{who: {type: string, default: world}}"),
    # c2 comes first in the file: `default` says where the chain starts.
    "actions/chains/basic.yaml": """---
vars:
  greeting: Hello
  whom: "{{ who | upper }}"
chain:
  - name: c2
    ref: core.local
    params:
      cmd: "echo {{ said }} / {{ __results.c1.stdout }} / {{ c1.return_code }}"
  - name: c1
    ref: core.local
    params:
      cmd: "echo {{ greeting }}, {{ whom }}"
    publish:
      said: "{{ c1.stdout }}"
      count: "{{ c1.return_code + 1 }}"
    on-success: c2
default: c1
""",
    "actions/recover.yaml": _action("recover", "action-chain", "chains/recover.yaml",
                                    "{code: {type: integer, default: 3}}"),
    "actions/chains/recover.yaml": """---
chain:
  - name: breaks
    ref: core.local
    params: {cmd: "exit {{ code }}"}
    on-success: never
    on-failure: mends
  - name: mends
    ref: core.local
    params: {cmd: "echo mended {{ breaks.return_code }}"}
  - name: never
    ref: core.noop
""",
    "actions/breaks.yaml": _action("breaks", "action-chain", "chains/breaks.yaml"),
    "actions/chains/breaks.yaml": """---
chain:
  - name: one
    ref: core.local
    params: {cmd: "exit 2"}
    on-success: two
  - name: two
    ref: core.noop
""",
    "actions/bad_template.yaml": _action("bad_template", "action-chain",
                                         "chains/bad_template.yaml"),
    "actions/chains/bad_template.yaml": """---
chain:
  - name: first
    ref: core.noop
    on-success: second
  - name: second
    ref: core.local
    params: {cmd: "echo {{ nowhere.stdout }}"}
""",
    "actions/pause_wf.yaml": _action("pause_wf", "action-chain", "chains/pause_wf.yaml"),
    "actions/chains/pause_wf.yaml": """---
chain:
  - name: flow
    ref: chains.slow_wf
    on-success: after
  - name: after
    ref: core.local
    params: {cmd: "echo after {{ flow.done }}"}
""",
    "actions/slow_wf.yaml": _action("slow_wf", "mistral-v2", "workflows/slow_wf.yaml"),
    "actions/workflows/slow_wf.yaml": """---
version: '2.0'
chains.slow_wf:
  output:
    done: <% $.done %>
  tasks:
    t1:
      action: core.local cmd="sleep 2"
      on-success: [t2]
    t2:
      action: core.local cmd="echo wf done"
      publish: {done: <% task(t2).result.stdout %>}
""",
    "actions/outer.yaml": _action("outer", "action-chain", "chains/outer.yaml"),
    "actions/chains/outer.yaml": """---
chain:
  - name: inner
    ref: chains.basic
    params: {who: nested}
    on-success: flow
  - name: flow
    ref: chains.wf
    params: {text: "{{ inner.published.said }}"}
""",
    "actions/wf.yaml": _action("wf", "mistral-v2", "workflows/wf.yaml",
                               "{text: {type: string, required: true}}"),
    "actions/workflows/wf.yaml": """---
version: '2.0'
chains.wf:
  input: [text]
  output:
    echoed: <% $.echoed %>
  tasks:
    echo:
      action: core.local cmd="echo wf got <% $.text %>"
      publish: {echoed: <% task(echo).result.stdout %>}
""",
    "actions/wf_calls_chain.yaml": _action("wf_calls_chain", "mistral-v2",
                                           "workflows/wf_calls_chain.yaml"),
    "actions/workflows/wf_calls_chain.yaml": """---
version: '2.0'
chains.wf_calls_chain:
  output:
    last: <% $.last %>
  tasks:
    call:
      action: chains.basic who=from-wf
      publish:
        last: <% task(call).result.tasks[1].result.stdout %>
""",
    "actions/slow.yaml": _action("slow", "action-chain", "chains/slow.yaml",
                                 "{wait: {type: number, default: 3}}"),
    "actions/chains/slow.yaml": """---
chain:
  - name: s1
    ref: core.local
    params: {cmd: "sleep {{ wait }}; echo first"}
    on-success: s2
  - name: s2
    ref: core.local
    params: {cmd: "echo second"}
""",
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                                marks=pytest.mark.postgres)])
def chains(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[System]:
    yield from running_system(request.param, tmp_path_factory, packs={"chains": CHAINS})


def _run(system: System, *args: str) -> dict[str, Any]:
    """`st2 run -j`: what it shows (`_shown`: for a chain, the last node's result, and
    `_listed`: the nodes), and the whole execution record from the API."""
    ran = _st2(system, "run", *args, "-j")
    assert ran.stdout.strip(), ran.stderr
    decoder = json.JSONDecoder()
    text = ran.stdout.strip()
    shown, end = decoder.raw_decode(text)
    rest = text[end:].strip()
    found = system.get(shown["id"])
    found["_shown"] = shown
    found["_listed"] = decoder.raw_decode(rest)[0] if rest else []
    return found


def _tasks(execution: dict[str, Any]) -> list[tuple[str, str]]:
    return [(t["name"], t["state"]) for t in execution["result"]["tasks"]]


def test_chain_vars_params_publish_default(chains: System) -> None:
    done = _run(chains, "chains.basic", "who=st2")
    assert done["status"] == "succeeded", done
    # `st2 run` lists the nodes by name, as it does a workflow's tasks.
    assert [(t["task"], t["action"]) for t in done["_listed"]] == [
        ("c1", "core.local"), ("c2", "core.local")]
    assert done["_shown"]["result_task"] == "c2"
    assert done["_shown"]["result"]["stdout"] == "Hello, ST2 / Hello, ST2 / 0"
    assert _tasks(done) == [("c1", "succeeded"), ("c2", "succeeded")]
    c1, c2 = done["result"]["tasks"]
    assert c1["result"]["stdout"] == "Hello, ST2"
    assert c2["result"]["stdout"] == "Hello, ST2 / Hello, ST2 / 0"
    assert done["result"]["published"] == {"said": "Hello, ST2", "count": 1}
    for task in (c1, c2):
        assert task["id"] == task["name"] and task["created_at"] and task["updated_at"]
    # The nodes are the chain's children, as `st2 execution get` and /children show them.
    children = chains.children(done["id"])
    assert [c["id"] for c in children] == [c1["execution_id"], c2["execution_id"]]
    assert all(c["parent"] == done["id"] and c["context"]["chain"]["name"] in ("c1", "c2")
               for c in children)
    assert chains.get(done["id"])["children"] == [c1["execution_id"], c2["execution_id"]]
    shown = _st2(chains, "execution", "get", done["id"])
    assert shown.returncode == 0, shown.stderr
    assert "status: succeeded" in shown.stdout
    assert c1["execution_id"] in shown.stdout and c2["execution_id"] in shown.stdout
    hidden = _run(chains, "chains.basic", "display_published=false")
    assert hidden["status"] == "succeeded" and "published" not in hidden["result"]


def test_node_failure_with_and_without_on_failure(chains: System) -> None:
    mended = _run(chains, "chains.recover")
    assert mended["status"] == "succeeded", mended
    assert _tasks(mended) == [("breaks", "failed"), ("mends", "succeeded")]
    assert mended["result"]["tasks"][1]["result"]["stdout"] == "mended 3"
    broken = _run(chains, "chains.breaks")
    assert broken["status"] == "failed", broken
    assert _tasks(broken) == [("one", "failed")]
    assert broken["result"]["tasks"][0]["result"]["return_code"] == 2
    unrendered = _run(chains, "chains.bad_template")
    assert unrendered["status"] == "failed"
    assert _tasks(unrendered) == [("first", "succeeded")]
    assert unrendered["result"]["error"].startswith(
        'Failed to run task "second". Parameter rendering failed. ')
    assert "nowhere" in unrendered["result"]["error"]


def test_nested_chain_and_chain_calling_a_workflow(chains: System) -> None:
    # Through the API: this `st2` (3.x) cannot list the tasks of a mistral workflow nested
    # in a chain (its children have neither context.chain nor context.orquesta).
    done = chains.wait(chains.run("chains.outer")["id"])
    assert done["status"] == "succeeded", done
    assert _tasks(done) == [("inner", "succeeded"), ("flow", "succeeded")]
    inner, flow = done["result"]["tasks"]
    assert _tasks({"result": inner["result"]}) == [("c1", "succeeded"), ("c2", "succeeded")]
    assert inner["result"]["published"]["said"] == "Hello, NESTED"
    assert flow["result"]["echoed"] == "wf got Hello, NESTED"
    grandchildren = chains.children(inner["execution_id"])
    assert len(grandchildren) == 2


def test_workflow_calling_a_chain(chains: System) -> None:
    done = _run(chains, "chains.wf_calls_chain")
    assert done["status"] == "succeeded", done
    assert done["result"]["last"].startswith("Hello, FROM-WF / Hello, FROM-WF")


def _set_status(system: System, execution_id: str, status: str) -> None:
    with system.client() as client:
        answer = client.put(f"/executions/{execution_id}", json={"status": status})
    assert answer.status_code == 200, answer.text


def _wait_status(system: System, execution_id: str, status: str) -> dict[str, Any]:
    return system.wait(execution_id, frozenset({status, "succeeded", "failed", "canceled"}))


def test_pause_resume_and_cancel_between_nodes(chains: System) -> None:
    # s1 runs 6 s: time for the st2 CLI to start and ask for the pause on a loaded machine
    # (with 3 s, a CI run saw the chain end first).
    started = chains.run("chains.slow", wait=6)
    running = chains.wait(started["id"], frozenset({"running"}))
    assert running["status"] == "running"
    deadline = time.monotonic() + 10
    while not chains.children(started["id"]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    paused = _st2(chains, "execution", "pause", started["id"])
    assert paused.returncode == 0, paused.stdout + paused.stderr
    assert chains.get(started["id"])["status"] in ("pausing", "paused")
    now = _wait_status(chains, started["id"], "paused")
    assert now["status"] == "paused", now
    assert _tasks(now) == [("s1", "succeeded")]
    resumed = _st2(chains, "execution", "resume", started["id"])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    done = chains.wait(started["id"])
    assert done["status"] == "succeeded", done
    assert _tasks(done) == [("s1", "succeeded"), ("s2", "succeeded")]
    assert len(chains.children(started["id"])) == 2  # s1 did not run again
    statuses = [entry["status"] for entry in done["log"]]
    assert "pausing" in statuses and "paused" in statuses and "resuming" in statuses

    victim = chains.run("chains.slow", wait=20)
    deadline = time.monotonic() + 10
    while not chains.children(victim["id"]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # Resumed while still pausing (its node runs): it just goes on running.
    assert _st2(chains, "execution", "pause", victim["id"]).returncode == 0
    assert chains.get(victim["id"])["status"] == "pausing"
    assert _st2(chains, "execution", "resume", victim["id"]).returncode == 0
    assert chains.get(victim["id"])["status"] == "running"
    canceled = _st2(chains, "execution", "cancel", victim["id"])
    assert canceled.returncode == 0, canceled.stdout + canceled.stderr
    ended = chains.wait(victim["id"])
    assert ended["status"] == "canceled", ended
    assert _tasks(ended) == [("s1", "canceled")]
    child = chains.children(victim["id"])
    assert [c["status"] for c in child] == ["canceled"]


def test_runner_killed_mid_chain_runs_no_node_twice(chains: System) -> None:
    started = chains.run("chains.slow", wait=8)
    deadline = time.monotonic() + 10
    while not chains.children(started["id"]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    chains.kill("runner")
    chains.start("runner")
    # The chain is taken again and goes on from its children: s1 died with the runner
    # (abandoned), so the chain fails there; s1 is not run a second time.
    done = chains.wait(started["id"])
    assert done["status"] == "failed", done
    assert _tasks(done) == [("s1", "abandoned")]
    assert len(chains.children(started["id"])) == 1
    assert any(entry["status"] == "requested" for entry in done["log"][1:])


def test_pause_of_a_chain_pauses_its_workflow_node(chains: System) -> None:
    started = chains.run("chains.pause_wf")
    deadline = time.monotonic() + 10
    while not chains.children(started["id"]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # Through the API (what `st2 execution pause/resume` send): this `st2` cannot print a
    # chain whose node is a mistral workflow (see above).
    _set_status(chains, started["id"], "pausing")
    paused = _wait_status(chains, started["id"], "paused")
    assert paused["status"] == "paused", paused
    flow = chains.children(started["id"])[0]
    # The chain asked its workflow node to pause too (set its status "pausing"); the
    # engine decides whether the workflow pauses before its end (workflow pause semantics
    # are the engine's): either way the chain pauses after it and goes on when resumed.
    assert flow["status"] in ("paused", "succeeded"), flow["log"]
    assert _tasks(paused) == [("flow", flow["status"])]
    _set_status(chains, started["id"], "resuming")
    done = chains.wait(started["id"])
    assert done["status"] == "succeeded", done
    assert _tasks(done) == [("flow", "succeeded"), ("after", "succeeded")]
    assert done["result"]["tasks"][1]["result"]["stdout"] == "after wf done"
    assert [c["id"] for c in chains.children(started["id"])] == [
        flow["id"], done["result"]["tasks"][1]["execution_id"]]  # flow did not run again
