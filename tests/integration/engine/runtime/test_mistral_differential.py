"""Differential tests: the same definitions on Levante's engine and on the reference,
OpenStack Mistral 23 (a reference build outside this repository), compared state for state and value
for value: workflow states, outputs (no `output` section, ERROR with and without
`output-on-error`), task states and published values, workbooks named `pack.action`.

The reference is used when it has been built (`setup.sh`, which installs Mistral into
`$MISTRAL_TRY`, by default `<tmp>/mistral-reference`); it runs in one process
(`all_in_one.py`) on a copy of its database. Without it these tests skip, saying how to
build it; test_workbooks_outputs.py pins the same results without the reference.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from levante.db import manage
from levante.engine.core import runtime
from levante.engine.core.runtime import EngineRuntime
from levante.engine.store import definitions

from .harness import ThreadWorker, define, run, tasks
from .test_workbooks_outputs import NO_OUTPUT, WORKBOOK

BUILT = Path(os.environ.get("MISTRAL_TRY") or Path(tempfile.gettempdir()) / "mistral-reference")
FAILING_EXPRESSION = """
version: '2.0'
fails_expression:
  input: [a]
  tasks:
    t1:
      action: std.echo output=<% $.a %>
      publish: {x: <% task().result %>, bad: <% $.nope.missing %>}
"""
_IDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def module_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite only: these tests compare the engine's semantics with Mistral's, which do not
    depend on the database (the rules themselves are pinned on both databases by
    test_workbooks_outputs.py, which runs without the reference)."""
    path: Path = tmp_path_factory.mktemp("engine") / "levante.sqlite"
    url = f"sqlite:///{path}"
    manage.upgrade(url, "head")
    yield url


@pytest.fixture(scope="module")
def mistral(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    python = BUILT / "venv" / "bin" / "python"
    database = BUILT / "inproc" / "mistral.db"
    if not (python.exists() and database.exists()):
        pytest.skip(f"the Mistral reference is not built in {BUILT}: build Mistral 23 "
                    "there with its reference setup script (MISTRAL_TRY chooses the folder)")
    here = tmp_path_factory.mktemp("mistral")
    shutil.copy(database, here / "mistral.db")
    port = _free_port()
    (here / "mistral.conf").write_text(
        f"[DEFAULT]\ntransport_url = fake:/\nlog_file = {here}/mistral.log\n"
        f"[api]\nhost = 127.0.0.1\nport = {port}\n[pecan]\nauth_enable = False\n"
        f"[database]\nconnection = sqlite:///{here}/mistral.db\n[executor]\ntype = local\n"
        "[notifier]\ntype = local\n[cron_trigger]\nenabled = False\n")
    proc = subprocess.Popen(
        [str(python), str(BUILT / "inproc" / "all_in_one.py"), "--config-file",
         str(here / "mistral.conf")], cwd=here, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}/v2", timeout=30)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if client.get("/workflows").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Mistral reference did not start (see {here}/mistral.log)")
            time.sleep(0.2)
        yield client
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _register(client: httpx.Client, path: str, text: str) -> None:
    headers = {"Content-Type": "text/plain"}
    answer = client.post(path, content=text, headers=headers)
    if answer.status_code == 409:  # the other backend's run registered it already
        answer = client.put(path, content=text, headers=headers)
    assert answer.status_code in (200, 201), answer.text


def _on_mistral(client: httpx.Client, name: str, wf_input: dict[str, Any]) -> dict[str, Any]:
    started = client.post("/executions", json={"workflow_name": name,
                                               "input": json.dumps(wf_input)})
    assert started.status_code == 201, started.text
    ex_id = started.json()["id"]
    deadline = time.monotonic() + 30
    while True:
        ex = client.get(f"/executions/{ex_id}").json()
        if ex["state"] not in ("RUNNING", "IDLE"):
            break
        assert time.monotonic() < deadline, f"{name} still {ex['state']} on Mistral"
        time.sleep(0.05)
    found = client.get(f"/executions/{ex_id}/tasks").json()["tasks"]
    return {"state": ex["state"], "state_info": ex.get("state_info"),
            "output": json.loads(ex["output"] or "{}"),
            "tasks": {t["name"]: (t["state"], json.loads(t["published"] or "{}"))
                      for t in found}}


def _on_levante(
    rt: EngineRuntime, ns: str, name: str, wf_input: dict[str, Any],
) -> dict[str, Any]:
    ex = run(rt, ns, name, wf_input)
    return {"state": ex["state"], "state_info": ex["state_info"], "output": ex["output"],
            "tasks": {n: (t["state"], t["published"] or {})
                      for n, t in tasks(rt.db, ex["id"]).items()}}


def _comparable(result: dict[str, Any], message: bool = True) -> dict[str, Any]:
    """What must be equal. A failed workflow's message is compared by its first line
    (which tasks failed): the lines after it give each engine's own wording of the
    action's error (Mistral 23 even puts a traceback there). A published error text
    (`err`) is compared by name only, for the same reason."""
    out = dict(result["output"])
    info = result["state_info"]
    # (a published `result` wins over the message: "mine" in fails_publishing_result)
    if result["state"] == "ERROR" and out.get("result") != "mine":
        assert out.get("result") == info, "on ERROR the output's result is the state_info"
        out["result"] = _IDS.sub("<id>", info.split("\n", 1)[0]) if message else "<message>"
    tasks_seen = {n: (s, {k: "<error>" if k == "err" else v for k, v in p.items()})
                  for n, (s, p) in result["tasks"].items()}
    return {"state": result["state"], "output": out, "tasks": tasks_seen}


@pytest.mark.parametrize("name", ["no_output", "plain_ok_no_publish", "fails_no_output",
                                  "fails_on_error_output", "fails_expression",
                                  "fails_publishing_result"])
def test_outputs_as_mistral(db: Engine, worker: ThreadWorker, ns: str, mistral: httpx.Client,
                            name: str) -> None:
    text = FAILING_EXPRESSION if name == "fails_expression" else NO_OUTPUT
    define(db, ns, text)
    _register(mistral, "/workflows", text)
    theirs = _on_mistral(mistral, name, {"a": "A"})
    ours = _on_levante(worker.runtime, ns, name, {"a": "A"})
    # Known difference: Mistral 23 words a publish it cannot evaluate "Failed to handle
    # action completion [...]" with a Python traceback; Levante names the failed task, as
    # for any failure. The output's shape (the message and the context) is the same.
    message = name != "fails_expression"
    assert _comparable(ours, message) == _comparable(theirs, message)


def test_pack_action_workbook_as_mistral(db: Engine, worker: ThreadWorker, ns: str,
                                         mistral: httpx.Client) -> None:
    with runtime.writer(db) as conn:
        definitions.create_workbook(conn, WORKBOOK, namespace=ns)
    _register(mistral, "/workbooks", WORKBOOK)
    names = {w["name"] for w in mistral.get("/workflows").json()["workflows"]}
    assert {"mypack.mywb.main", "mypack.mywb.sub"} <= names
    theirs = _on_mistral(mistral, "mypack.mywb.main", {"name": "sub"})
    ours = _on_levante(worker.runtime, ns, "mypack.mywb.main", {"name": "sub"})
    assert _comparable(ours) == _comparable(theirs)
    assert ours["output"] == {"s": "short", "f": "full", "d": "dynamic"}
