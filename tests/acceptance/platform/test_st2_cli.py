"""The real `st2` CLI (st2client in .venv-clients/st2) against a running platform."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.acceptance.platform.conftest import ROOT, Platform
from tests.harness import clean_environ, serve_http

ST2 = ROOT / ".venv-clients" / "st2" / "bin" / "st2"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

pytestmark = pytest.mark.skipif(
    not ST2.exists(), reason="st2client is not installed: run `make clients`"
)


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello from loopback"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def hello_url() -> Iterator[str]:
    with serve_http(ThreadingHTTPServer(("127.0.0.1", 0), _Hello)) as url:
        yield f"{url}/hello"


def st2(platform: Platform, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_environ(ST2_API_KEY=platform.key, HOME=str(home))
    done = subprocess.run(
        [str(ST2), "--api-url", f"{platform.url}/v1", *args],
        capture_output=True, text=True, env=env, timeout=120,
    )
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       ANSI.sub("", done.stdout), ANSI.sub("", done.stderr))


def test_st2_cli_against_levante(sqlite_platform: Platform, tmp_path: Path,
                                 hello_url: str) -> None:
    platform = sqlite_platform
    home = tmp_path / "home"
    home.mkdir()

    listed = st2(platform, home, "action", "list")
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"\|\s*ref\s*\|\s*pack\s*\|\s*description", listed.stdout)
    assert "core.local " in listed.stdout and "core.http " in listed.stdout

    got = st2(platform, home, "action", "get", "core.local")
    assert got.returncode == 0, got.stderr
    assert re.search(r"\|\s*runner_type\s*\|\s*local-shell-cmd", got.stdout)
    assert re.search(r"\|\s*ref\s*\|\s*core\.local", got.stdout)

    ran = st2(platform, home, "run", "core.local", "cmd=date")
    assert ran.returncode == 0, ran.stderr
    assert "status: succeeded" in ran.stdout
    assert re.search(r"stdout: .*\d\d:\d\d:\d\d", ran.stdout)
    execution_id = re.search(r"id: ([0-9a-f]{24})", ran.stdout).group(1)  # type: ignore[union-attr]

    http = st2(platform, home, "run", "core.http", f"url={hello_url}")
    assert http.returncode == 0, http.stderr
    assert "status: succeeded" in http.stdout
    assert "hello from loopback" in http.stdout
    assert "status_code: 200" in http.stdout

    failed = st2(platform, home, "run", "core.local", "cmd=exit 2")
    assert failed.returncode == 1
    assert "status: failed" in failed.stdout

    executions = st2(platform, home, "execution", "list")
    assert executions.returncode == 0, executions.stderr
    assert execution_id in executions.stdout
    assert re.search(r"\|\s*id\s*\|\s*action\.ref\s*\|", executions.stdout)

    one = st2(platform, home, "execution", "get", execution_id)
    assert one.returncode == 0, one.stderr
    assert f"id: {execution_id}" in one.stdout
    assert "action.ref: core.local" in one.stdout
    assert "status: succeeded" in one.stdout

    detail = st2(platform, home, "execution", "get", execution_id, "-dj")
    assert detail.returncode == 0, detail.stderr
    doc = json.loads(detail.stdout)
    assert doc["id"] == execution_id
    assert doc["status"] == "succeeded"
    assert doc["action"]["ref"] == "core.local"
    assert [entry["status"] for entry in doc["log"]][-1] == "succeeded"
    assert doc["parameters"]["cmd"] == "date"

    started = st2(platform, home, "run", "core.local", "cmd=sleep 30", "-a")
    assert started.returncode == 0, started.stderr
    sleeper = re.search(r"execution get ([0-9a-f]{24})", started.stdout).group(1)  # type: ignore[union-attr]
    with platform.client() as client:
        deadline = time.monotonic() + 10
        while client.get(f"/executions/{sleeper}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        canceled = st2(platform, home, "execution", "cancel", sleeper)
        assert canceled.returncode == 0, canceled.stderr
        assert f"action execution with id {sleeper} canceled." in canceled.stdout
        deadline = time.monotonic() + 10
        while client.get(f"/executions/{sleeper}").json()["status"] != "canceled":
            assert time.monotonic() < deadline
            time.sleep(0.05)
