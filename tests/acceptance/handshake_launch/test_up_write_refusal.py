"""`levante up` (every role in one process, one SQLite file): the file refuses writes
while a workflow's platform action and a plain action end; both are recorded once it
accepts writes again and end ``succeeded`` without a restart; both APIs answer 503
meanwhile (issue 9, point 6; see tests/refusal.py for the way writes are refused)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port, levante_bin
from tests.refusal import need_refusal, refused

REFUSAL_SECONDS = 6.0


def _get(client: httpx.Client, path: str) -> Any:
    deadline = time.monotonic() + 20
    while True:
        answer = client.get(path)
        if answer.status_code != 503 or time.monotonic() > deadline:
            assert answer.status_code == 200, answer.text
            return answer.json()
        time.sleep(0.2)


def test_levante_up_waits_out_a_database_that_refuses_writes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'levante.sqlite'}"
    need_refusal(url, tmp_path)
    api_port, engine_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEVANTE_", "ST2_"))}
    out = tmp_path / "up.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [levante_bin("levante"), "up", "--data-dir", str(data),
             "--api-port", str(api_port), "--engine-port", str(engine_port)],
            stdout=sink, stderr=subprocess.STDOUT, env={**env, "PYTHONUNBUFFERED": "1"},
            cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + 60
        while "Engine API (Mistral v2)" not in out.read_text():
            assert proc.poll() is None, out.read_text()
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.1)
        for probe in (f"http://127.0.0.1:{api_port}/v1/openapi.json",
                      f"http://127.0.0.1:{engine_port}/v2"):
            while True:
                try:
                    httpx.get(probe, timeout=1.0)
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, out.read_text()
                    time.sleep(0.05)
        key = (data / "api_key").read_text().strip()
        api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}/v1",
                           headers={"St2-Api-Key": key}, timeout=30)
        engine = httpx.Client(base_url=f"http://127.0.0.1:{engine_port}/v2",
                              headers={"St2-Api-Key": key}, timeout=30)
        plain = api.post("/executions", json={"action": "core.local",
                                              "parameters": {"cmd": "sleep 1 && echo one"}})
        flow = api.post("/executions", json={"action": "examples.hello_chain",
                                             "parameters": {"items": ["a", "b"]}})
        assert plain.status_code == 201 and flow.status_code == 201, (plain.text, flow.text)
        time.sleep(0.3)
        with refused([url]):
            started = time.monotonic()
            for answer in (api.post("/executions", json={"action": "core.noop"}),
                           engine.post("/environments", json={"name": "e", "variables": {}})):
                assert answer.status_code == 503, answer.text
                assert "not accepting writes" in answer.json()["faultstring"]
                assert answer.headers["retry-after"]
            time.sleep(max(0.0, REFUSAL_SECONDS - (time.monotonic() - started)))
            assert _get(api, f"/executions/{plain.json()['id']}")["status"] == "running"
        deadline = time.monotonic() + 90
        for created in (plain, flow):
            while (found := _get(api, f"/executions/{created.json()['id']}"))["status"] \
                    not in ("succeeded", "failed", "timeout", "abandoned", "canceled"):
                assert time.monotonic() < deadline, (found, out.read_text()[-3000:])
                time.sleep(0.1)
            assert found["status"] == "succeeded", found
        assert proc.poll() is None  # the same process all along
        assert _get(api, f"/executions/{plain.json()['id']}")["result"]["stdout"].strip() == "one"
        assert _get(api, f"/executions/{flow.json()['id']}")["result"]["greeting"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
