"""A real engine (`levante serve engine` in a subprocess) per database kind, and a tiny
loopback HTTP server for the `std.http` cases.

One engine serves every case of a database kind: cases keep apart by workflow names that
start with their case id.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from levante.db import manage
from levante.db.connect import make_engine
from levante.identity.keys import create_api_key
from tests.conftest import (
    create_postgres_database,
    drop_postgres_database,
    free_port,
    levante_bin,
    postgres_server_url,
)

START_SECONDS = 40.0
# std.http may not reach this network (TEST-NET-1, never routed): the std_http_denied case.
DENIED_NETWORK = "192.0.2.0/24"


@dataclass
class EngineServer:
    """One running engine: its base URL (`.../v2`), database kind and log file."""

    base: str
    kind: str
    log: Path
    proc: subprocess.Popen[bytes]
    key: str = ""  # an API key of the engine's database (the API is authenticated)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.key}

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _wait_ready(server: EngineServer) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"the engine exited early:\n{server.log_tail()}")
        try:
            if httpx.get(server.base, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the engine did not answer on {server.base}:\n{server.log_tail()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _start_engine(url: str, tmp: Path, kind: str) -> EngineServer:
    manage.upgrade(url, "head")
    db = make_engine(url)
    try:
        key, _row = create_api_key(db, "conformance")
    finally:
        db.dispose()
    port = free_port()
    env = {
        **os.environ,
        "LEVANTE_DATABASE_CONNECTION": url,
        "LEVANTE_ENGINE_HOST": "127.0.0.1",
        "LEVANTE_ENGINE_PORT": str(port),
        "LEVANTE_ENGINE_POLL_INTERVAL": "0.2",
        "LEVANTE_ENGINE_EXPRESSION_TIMEOUT": "1.0",
        "LEVANTE_ENGINE_HTTP_DENIED_NETWORKS": DENIED_NETWORK,
        "LEVANTE_NOTIFIER_ENABLED": "false",
        "LEVANTE_CORE_DATA_DIR": str(tmp),
    }
    env.pop("LEVANTE_CONFIG_FILE", None)
    log = tmp / "engine.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [levante_bin("levante"), "serve", "engine"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp,
        )
    server = EngineServer(f"http://127.0.0.1:{port}/v2", kind, log, proc, key)
    try:
        _wait_ready(server)
    except BaseException:
        _stop(proc)
        raise
    return server


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def engine_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EngineServer]:
    """A running engine on a fresh database of each kind, stopped at the end."""
    kind = str(request.param)
    tmp = tmp_path_factory.mktemp(f"engine-{kind}")
    if kind == "sqlite":
        url, drop = f"sqlite:///{tmp / 'levante.sqlite'}", None
    else:
        if not postgres_server_url():
            pytest.skip("PostgreSQL tests need LEVANTE_TEST_POSTGRES_URL")
        url = create_postgres_database()
        drop = url
    try:
        server = _start_engine(url, tmp, kind)
        try:
            yield server
        finally:
            _stop(server.proc)
    finally:
        if drop is not None:
            drop_postgres_database(drop)


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
    server = _LoopbackServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
