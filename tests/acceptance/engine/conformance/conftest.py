"""A real engine (`levante serve engine` in a subprocess, tests/harness.py) per database
kind, and a tiny
loopback HTTP server for the `std.http` cases.

One engine serves every case of a database kind: cases keep apart by workflow names that
start with their case id.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.acceptance.engine.conftest import start_engine
from tests.conftest import postgres_server_url
from tests.harness import System, serve_http

# std.http may not reach this network (TEST-NET-1, never routed): the std_http_denied case.
DENIED_NETWORK = "192.0.2.0/24"


@dataclass
class EngineServer:
    """One running engine: its base URL (`.../v2`), database kind and log file."""

    system: System
    kind: str

    @property
    def base(self) -> str:
        return f"{self.system.engine}/v2"

    @property
    def key(self) -> str:  # an API key of the engine's database (the API is authenticated)
        return self.system.key

    @property
    def log(self) -> Path:
        return self.system.log_path("engine")

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        return self.system.procs["engine"]

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.key}

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def engine_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EngineServer]:
    """A running engine on a fresh database of each kind, stopped at the end."""
    kind = str(request.param)
    if kind == "postgres" and not postgres_server_url():
        pytest.skip("PostgreSQL tests need LEVANTE_TEST_POSTGRES_URL")
    tmp = tmp_path_factory.mktemp(f"engine-{kind}")
    system = start_engine(tmp, kind, "conformance", {"engine": {
        "expression_timeout": 1.0, "http_denied_networks": DENIED_NETWORK}})
    try:
        yield EngineServer(system, kind)
    finally:
        system.close()


# --- the loopback HTTP server of the std.http cases ------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    """`/json`, `/status/<code>`, `/echo` (any method), `/redirect` (to /json),
    `/flaky/<key>/<failures>`, and
    `/inflight/<key>` (answers after 0.3 s) with `/maxinflight/<key>` (the most at once)."""

    server: _LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        segs = [s for s in parts.path.split("/") if s]
        body = self._body()
        if segs == ["json"]:
            self._send(200, {"hello": "world"})
        elif len(segs) == 2 and segs[0] == "status":
            self._send(int(segs[1]), {"status": int(segs[1])})
        elif segs == ["echo"]:
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            self._send(200, {
                "method": self.command, "body": body, "query": query,
                "x_token": self.headers.get("X-Token"),
                "authorization": self.headers.get("Authorization"),
            })
        elif segs == ["redirect"]:
            self.send_response(302)
            self.send_header("Location", "/json")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif len(segs) == 3 and segs[0] == "flaky":
            calls = self.server.count(segs[1])
            if calls <= int(segs[2]):
                self._send(500, {"calls": calls})
            else:
                self._send(200, {"calls": calls})
        elif len(segs) == 2 and segs[0] == "inflight":
            self.server.enter(segs[1])
            try:
                time.sleep(0.3)
            finally:
                self.server.leave(segs[1])
            self._send(200, {"ok": True})
        elif len(segs) == 2 and segs[0] == "maxinflight":
            self._send(200, {"max": self.server.max_inflight(segs[1])})
        else:
            self._send(404, {"error": "not found"})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


class _LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._calls: dict[str, int] = {}
        self._inflight: dict[str, int] = {}
        self._max: dict[str, int] = {}
        self._lock = threading.Lock()

    def enter(self, key: str) -> None:
        with self._lock:
            self._inflight[key] = self._inflight.get(key, 0) + 1
            self._max[key] = max(self._max.get(key, 0), self._inflight[key])

    def leave(self, key: str) -> None:
        with self._lock:
            self._inflight[key] -= 1

    def max_inflight(self, key: str) -> int:
        with self._lock:
            return self._max.get(key, 0)

    def count(self, key: str) -> int:
        with self._lock:
            self._calls[key] = self._calls.get(key, 0) + 1
            return self._calls[key]


@pytest.fixture(scope="session")
def http_base() -> Iterator[str]:
    """Base URL of a loopback HTTP server the `std.http` cases call."""
    with serve_http(_LoopbackServer()) as url:
        yield url
