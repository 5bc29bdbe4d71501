"""The handshake with the engine and the platform as separate processes on separate
databases: `levante serve engine` + `levante serve notifier` on one, `levante serve api` +
`levante serve resultstracker` on the other, talking only over HTTP.

The platform execution that a workflow action would create is written by the test (the
workflow runner is not wired yet); the test then starts the workflow on the engine with
the platform's `params.env.levante` and `params.notify`, as the runner will.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from levante.contract.signing import generate_secret, signed_headers
from levante.db import manage
from levante.db.connect import make_engine
from levante.platform.models import executions
from tests.conftest import (
    create_postgres_database,
    drop_postgres_database,
    free_port,
    levante_bin,
    postgres_server_url,
)
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


@dataclass
class System:
    tmp: Path
    engine_url: str
    platform_url: str
    engine_conf: Path
    platform_conf: Path
    engine_port: int
    api_port: int
    secret: str
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, role: str) -> None:
        conf = self.engine_conf if role in ("engine", "notifier") else self.platform_conf
        log = open(self.tmp / f"{role}.out", "ab")  # noqa: SIM115 (kept by the process)
        self.procs[role] = subprocess.Popen(
            [levante_bin("levante"), "serve", role, "--config-file", str(conf)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def kill(self, role: str) -> None:
        proc = self.procs.pop(role)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()

    def wait_up(self, url: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=1.0)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"{url} did not come up; see {self.tmp}")

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


def _write_conf(path: Path, url: str, data: Path, engine_port: int, api_port: int,
                secret: str, log: Path) -> None:
    path.write_text(f"""
[core]
data_dir = {data}
[database]
connection = {url}
[engine]
port = {engine_port}
poll_interval = 0.2
# Two databases: the platform's keys are not in the engine's identity tables, so the engine
# runs without authentication here (see docs/configuration.md, [engine] auth).
auth = false
[api]
port = {api_port}
[auth]
enabled = true
[notifier]
signing_secret = {secret}
initial_backoff = 0.1
max_backoff = 0.5
poll_interval = 0.1
[resultstracker]
query_interval = 0.5
empty_q_sleep_time = 0.2
silence_timeout = 30
[log]
file = {log}
""", encoding="utf-8")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                                marks=pytest.mark.postgres)])
def system(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[System]:
    tmp = tmp_path_factory.mktemp(f"handshake-{request.param}")
    if request.param == "sqlite":
        urls = [f"sqlite:///{tmp / 'engine.sqlite'}", f"sqlite:///{tmp / 'platform.sqlite'}"]
    else:
        if not postgres_server_url():
            pytest.skip("PostgreSQL tests need LEVANTE_TEST_POSTGRES_URL")
        urls = [create_postgres_database(), create_postgres_database()]
    for url in urls:
        manage.upgrade(url, "head")
    engine_port, api_port = free_port(), free_port()
    secret = generate_secret()
    engine_conf, platform_conf = tmp / "engine.conf", tmp / "platform.conf"
    _write_conf(engine_conf, urls[0], tmp / "edata", engine_port, api_port, secret,
                tmp / "engine.log")
    _write_conf(platform_conf, urls[1], tmp / "pdata", engine_port, api_port, secret,
                tmp / "platform.log")
    found = System(tmp, urls[0], urls[1], engine_conf, platform_conf, engine_port, api_port,
                   secret)
    for role in ("engine", "notifier", "api", "resultstracker"):
        found.start(role)
    try:
        found.wait_up(f"http://127.0.0.1:{engine_port}/v2")
        found.wait_up(f"http://127.0.0.1:{api_port}/v1/openapi.json")
        answer = httpx.post(f"http://127.0.0.1:{engine_port}/v2/workflows", content=WORKFLOW,
                            headers={"content-type": "text/plain"}, timeout=30)
        assert answer.status_code == 201, answer.text
        yield found
    finally:
        found.stop_all()
        if request.param == "postgres":
            for url in urls:
                drop_postgres_database(url)


def _status(system: System, ex_id: str) -> str:
    db = make_engine(system.platform_url)
    try:
        return str(platform_row(db, ex_id)["status"])
    finally:
        db.dispose()


def _new_execution(system: System) -> str:
    db = make_engine(system.platform_url)
    try:
        return platform_execution(db, None)
    finally:
        db.dispose()


def test_a_workflow_end_to_end_with_the_log_lines(system: System) -> None:
    ex_id = _new_execution(system)
    wf_id = system.launch(ex_id)
    wait_for(lambda: _status(system, ex_id) == "succeeded", 30.0, 0.05)
    db = make_engine(system.platform_url)
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


def test_platform_killed_while_workflows_finish(system: System) -> None:
    system.kill("api")
    ids = [_new_execution(system) for _ in range(3)]
    for ex_id in ids:
        system.launch(ex_id)
    time.sleep(1.0)  # the workflows end while nobody answers; deliveries are retried
    assert {_status(system, ex_id) for ex_id in ids} == {"running"}
    system.start("api")
    system.wait_up(f"http://127.0.0.1:{system.api_port}/v1/openapi.json")
    wait_for(lambda: all(_status(system, ex_id) == "succeeded" for ex_id in ids), 30.0, 0.1)


def test_the_tracker_alone_with_levante_track_result(system: System) -> None:
    system.kill("notifier")  # the notifier is off: only the tracker can end it
    db = make_engine(system.platform_url)
    try:
        ex_id = platform_execution(db, None)
        wf_id = system.launch(ex_id)
        with db.begin() as conn:  # as the workflow runner records it at launch
            conn.execute(update(executions).where(executions.c.id == ex_id).values(
                context={"user": "admin", "mistral": {"execution_id": wf_id}}))
    finally:
        db.dispose()
    added = subprocess.run([levante_bin("levante-track-result"), ex_id, "--config-file",
                            str(system.platform_conf)], capture_output=True, text=True,
                           timeout=60)
    assert added.returncode == 0, added.stderr
    assert "Tracking execution" in added.stdout
    wait_for(lambda: _status(system, ex_id) == "succeeded", 30.0, 0.05)
    db = make_engine(system.platform_url)
    row = platform_row(db, ex_id)
    db.dispose()
    assert row["result"]["answer"] == 42
    assert [t["name"] for t in row["result"]["tasks"]] == ["one", "two"]
    system.start("notifier")  # its late events change nothing


def test_the_silence_safety_net(system: System) -> None:
    db = make_engine(system.platform_url)
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


def test_duplicate_late_and_badly_signed_events(system: System) -> None:
    ex_id = _new_execution(system)
    wf_id = system.launch(ex_id)
    wait_for(lambda: _status(system, ex_id) == "succeeded", 30.0, 0.05)
    db = make_engine(system.platform_url)
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


def test_notifier_killed_and_restarted(system: System) -> None:
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


def test_engine_killed_and_restarted_mid_workflow(system: System) -> None:
    ex_id = _new_execution(system)
    system.launch(ex_id, workflow="hs_sleepy")
    time.sleep(0.5)  # the nap task is running
    system.kill("engine")
    system.start("engine")
    system.wait_up(f"http://127.0.0.1:{system.engine_port}/v2")
    wait_for(lambda: _status(system, ex_id) == "succeeded", 60.0, 0.1)
    db = make_engine(system.platform_url)
    row = platform_row(db, ex_id)
    db.dispose()
    assert row["result"]["slept"] is True
    assert [t["name"] for t in row["result"]["tasks"]] == ["nap", "after"]
