"""The handshake with the engine and the platform as separate processes on separate
databases (tests/harness.py): `levante serve engine` + `levante serve notifier` on one,
`levante serve api` + `levante serve resultstracker` on the other, talking only over HTTP.

The platform execution that a workflow action would create is written by the test (the
workflow runner is not wired yet); the test then starts the workflow on the engine with
the platform's `params.env.levante` and `params.notify`, as the runner will.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from levante.contract.signing import generate_secret, signed_headers
from levante.db.connect import make_engine
from levante.platform.core.models import executions
from tests.conftest import levante_bin, postgres_server_url
from tests.harness import System
from tests.integration.handshake.support import platform_execution, platform_row, wait_for

WORKFLOW = """---
version: '2.0'
hs_chain:
  output:
    answer: <% $.a %>
  tasks:
    one:
      action: std.noop
      publish:
        a: 42
      on-success: [two]
    two:
      action: std.echo output="done"

hs_sleepy:
  output:
    slept: <% $.s %>
  tasks:
    nap:
      action: std.sleep seconds=1.5
      safe-rerun: true
      publish:
        s: yes
      on-success: [after]
    after:
      action: std.noop
"""


class Handshake(System):
    """The system, plus starting a workflow on the engine as the workflow runner does."""

    @property
    def callback(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/v1/webhooks/levante"

    def launch(self, platform_id: str | None, notify: bool = True,
               workflow: str = "hs_chain") -> str:
        """Start the workflow on the engine as the workflow runner does; its id."""
        params: dict[str, object] = {}
        if platform_id and notify:
            params = {"env": {"levante": {"execution_id": platform_id,
                                          "callback_url": self.callback}},
                      "notify": [{"type": "levante"}]}
        answer = httpx.post(f"http://127.0.0.1:{self.engine_port}/v2/executions", json={
            "workflow_name": workflow, "params": json.dumps(params)}, timeout=30)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])


OPTIONS: dict[str, dict[str, Any]] = {
    # Two databases: the platform's keys are not in the engine's identity tables, so the
    # engine runs without authentication here (see docs/configuration.md, [engine] auth).
    "engine": {"auth": "false"},
    "auth": {"enabled": "true"},
    "resultstracker": {"silence_timeout": 30},
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                                marks=pytest.mark.postgres)])
def system(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Handshake]:
    if request.param == "postgres" and not postgres_server_url():
        pytest.skip("PostgreSQL tests need LEVANTE_TEST_POSTGRES_URL")
    tmp = tmp_path_factory.mktemp(f"handshake-{request.param}")
    found = Handshake.create(
        tmp, request.param, ("engine", "notifier", "api", "resultstracker"), split=True,
        options=OPTIONS, register_packs=False,
        engine_options={"log": {"file": tmp / "engine.log"}},
        platform_options={"log": {"file": tmp / "platform.log"}})
    try:
        answer = httpx.post(f"{found.engine}/v2/workflows", content=WORKFLOW,
                            headers={"content-type": "text/plain"}, timeout=30)
        assert answer.status_code == 201, answer.text
        yield found
    finally:
        found.close()


def _status(system: Handshake, ex_id: str) -> str:
    db = make_engine(system.platform_db)
    try:
        return str(platform_row(db, ex_id)["status"])
    finally:
        db.dispose()


def _new_execution(system: Handshake) -> str:
    db = make_engine(system.platform_db)
    try:
        return platform_execution(db, None)
    finally:
        db.dispose()


def test_a_workflow_end_to_end_with_the_log_lines(system: Handshake) -> None:
    ex_id = _new_execution(system)
    wf_id = system.launch(ex_id)
    wait_for(lambda: _status(system, ex_id) == "succeeded", 30.0, 0.05)
    db = make_engine(system.platform_db)
    row = platform_row(db, ex_id)
    db.dispose()
    assert row["result"]["answer"] == 42
    assert row["result"]["extra"]["state"] == "SUCCESS"
    assert [t["name"] for t in row["result"]["tasks"]] == ["one", "two"]
    assert {t["workflow_execution_id"] for t in row["result"]["tasks"]} == {wf_id}
    assert row["context"]["mistral"]["execution_id"] == wf_id
    published = (f"[{wf_id}] The workflow event WORKFLOW_SUCCEEDED for {wf_id} "
                 "is published to levante.")

    def engine_lines() -> list[str]:
        return [line for line in (system.tmp / "engine.log").read_text().splitlines()
                if f"[{wf_id}]" in line]

    # The platform commits before the notifier logs the "after" line: wait for it.
    wait_for(lambda: any(line.endswith(published) for line in engine_lines()), 10.0, 0.05)
    lines = engine_lines()
    assert any("The task event TASK_SUCCEEDED for " in line
               and line.endswith("is processed for levante.") for line in lines)
    assert any(line.endswith(f"[{wf_id}] The workflow event WORKFLOW_LAUNCHED for {wf_id} "
                             "will be published to levante.") for line in lines)


def test_platform_killed_while_workflows_finish(system: Handshake) -> None:
    system.kill("api")
    ids = [_new_execution(system) for _ in range(3)]
    for ex_id in ids:
        system.launch(ex_id)
    time.sleep(1.0)  # the workflows end while nobody answers; deliveries are retried
    assert {_status(system, ex_id) for ex_id in ids} == {"running"}
    system.start("api")
    system.wait_up(f"http://127.0.0.1:{system.api_port}/v1/openapi.json")
    wait_for(lambda: all(_status(system, ex_id) == "succeeded" for ex_id in ids), 30.0, 0.1)


def test_the_tracker_alone_with_levante_track_result(system: Handshake) -> None:
    system.kill("notifier")  # the notifier is off: only the tracker can end it
    db = make_engine(system.platform_db)
    try:
        ex_id = platform_execution(db, None)
        wf_id = system.launch(ex_id)
        with db.begin() as conn:  # as the workflow runner records it at launch
            conn.execute(update(executions).where(executions.c.id == ex_id).values(
                context={"user": "admin", "mistral": {"execution_id": wf_id}}))
    finally:
        db.dispose()
    added = subprocess.run([levante_bin("levante-track-result"), ex_id, "--config-file",
                            str(system.confs["api"])], capture_output=True, text=True,
                           timeout=60)
    assert added.returncode == 0, added.stderr
    assert "Tracking execution" in added.stdout
    wait_for(lambda: _status(system, ex_id) == "succeeded", 30.0, 0.05)
    db = make_engine(system.platform_db)
    row = platform_row(db, ex_id)
    db.dispose()
    assert row["result"]["answer"] == 42
    assert [t["name"] for t in row["result"]["tasks"]] == ["one", "two"]
    system.start("notifier")  # its late events change nothing


def test_the_silence_safety_net(system: Handshake) -> None:
    db = make_engine(system.platform_db)
    try:
        wf_id = system.launch(None, notify=False)
        ex_id = platform_execution(db, wf_id)
        # Launched a minute ago, and no event since (silence_timeout is 30 s).
        with db.begin() as conn:
            conn.execute(update(executions).where(executions.c.id == ex_id).values(
                start_timestamp=datetime.now(UTC) - timedelta(seconds=60)))
    finally:
        db.dispose()
    # Nobody asked to track it: the safety net does (it looks every 5 s).
    wait_for(lambda: _status(system, ex_id) == "succeeded", 40.0, 0.1)
    log = (system.tmp / "platform.log").read_text()
    assert f"[{ex_id}] no event for 30 s: the results tracker follows it now" in log


def test_duplicate_late_and_badly_signed_events(system: Handshake) -> None:
    ex_id = _new_execution(system)
    wf_id = system.launch(ex_id)
    wait_for(lambda: _status(system, ex_id) == "succeeded", 30.0, 0.05)
    db = make_engine(system.platform_db)
    before = platform_row(db, ex_id)

    def post(body: dict[str, object], secret: str) -> httpx.Response:
        raw = json.dumps(body).encode()
        headers = {"content-type": "application/json",
                   **signed_headers(secret, f"msg_test_{body['event_id']}", raw)}
        return httpx.post(system.callback, content=raw, headers=headers, timeout=10)

    late = {"event": "WORKFLOW_LAUNCHED", "event_id": 1, "id": wf_id, "state": "RUNNING",
            "root_execution_id": wf_id}
    after_end = {"event": "WORKFLOW_FAILED", "event_id": 10**9, "id": wf_id,
                 "state": "ERROR", "output": {}, "root_execution_id": wf_id}
    for body in (late, after_end, after_end):
        answer = post(body, system.secret)
        assert answer.status_code == 200, answer.text
        assert answer.json()["changed"] is False
    forged = post({**after_end, "event_id": 10**9 + 1}, generate_secret())
    assert forged.status_code == 401
    after = platform_row(db, ex_id)
    db.dispose()
    assert (after["status"], after["result"], after["log"]) == (
        before["status"], before["result"], before["log"])
    assert "bad signature" in (system.tmp / "platform.log").read_text()


def test_notifier_killed_and_restarted(system: Handshake) -> None:
    system.kill("notifier")
    ex_id = _new_execution(system)
    wf_id = system.launch(ex_id)

    def engine_state() -> str:
        answer = httpx.get(f"http://127.0.0.1:{system.engine_port}/v2/executions/{wf_id}",
                           timeout=10)
        return str(answer.json()["state"])

    wait_for(lambda: engine_state() == "SUCCESS", 30.0, 0.05)
    time.sleep(0.5)
    assert _status(system, ex_id) == "running"  # nobody delivered the events yet
    system.start("notifier")
    wait_for(lambda: _status(system, ex_id) == "succeeded", 30.0, 0.05)


def test_engine_killed_and_restarted_mid_workflow(system: Handshake) -> None:
    ex_id = _new_execution(system)
    system.launch(ex_id, workflow="hs_sleepy")
    time.sleep(0.5)  # the nap task is running
    system.kill("engine")
    system.start("engine")
    system.wait_up(f"http://127.0.0.1:{system.engine_port}/v2")
    wait_for(lambda: _status(system, ex_id) == "succeeded", 60.0, 0.1)
    db = make_engine(system.platform_db)
    row = platform_row(db, ex_id)
    db.dispose()
    assert row["result"]["slept"] is True
    assert [t["name"] for t in row["result"]["tasks"]] == ["nap", "after"]
