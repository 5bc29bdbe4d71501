"""A real HTTP server on a loopback port, for std.http and std.mistral_http."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.harness import serve_http

AUTH_USER = "alice"
AUTH_PASSWORD = "s3cret:with-colon"


class Handler(BaseHTTPRequestHandler):
    """Routes: /echo, /status/<n>, /redirect?to=, /slow?seconds=, /text, /cookie, /auth."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: object, headers: dict[str, str] | None = None) -> None:
        self._reply(status, json.dumps(data).encode(), "application/json", headers)

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        path = parts.path
        if path == "/echo":
            self._json(200, {
                "method": self.command,
                "path": path,
                "query": query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            })
        elif path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
            self._json(status, {"status": status, "error": "as asked"})
        elif path == "/redirect":
            self._reply(302, b"", "text/plain", {"Location": query["to"][0]})
        elif path == "/slow":
            time.sleep(float(query.get("seconds", ["1"])[0]))
            self._reply(200, b"late", "text/plain")
        elif path == "/text":
            self._reply(200, "héllo".encode(), "text/plain; charset=utf-8")
        elif path == "/cookie":
            self._json(200, {"cookie": self.headers.get("Cookie")}, {"Set-Cookie": "flavour=mint"})
        elif path == "/auth":
            expected = base64.b64encode(f"{AUTH_USER}:{AUTH_PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") == f"Basic {expected}":
                self._json(200, {"user": AUTH_USER})
            else:
                self._json(401, {"error": "who are you"}, {"WWW-Authenticate": "Basic"})
        else:
            self._json(404, {"error": "no route"})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


def serve(host: str) -> Iterator[str]:
    with serve_http(ThreadingHTTPServer((host, 0), Handler)) as url:
        yield url


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    """Base URL of the test HTTP server on 127.0.0.1."""
    yield from serve("127.0.0.1")


@pytest.fixture(scope="module")
def other_http_url() -> Iterator[str]:
    """The same server on 127.0.0.2 (another loopback address), for redirect checks."""
    yield from serve("127.0.0.2")
