"""http-request against a loopback HTTP server the test starts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from levante.platform.core.packs import BUNDLED_PACKS_DIR, ActionMeta, load_pack
from levante.platform.runners import run_action
from tests.harness import serve_http

from .helpers import Output, request, run


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, code: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
               ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if self.path.startswith("/text"):
            self._reply(200, b"plain words", "text/plain")
        elif self.path.startswith("/fail"):
            self._reply(503, b'{"error": "down"}', "application/json")
        elif self.path.startswith("/redirect"):
            self._reply(302, b"", "text/plain", {"Location": "/echo?redirected=1"})
        elif self.path.startswith("/slow"):
            time.sleep(3)
            self._reply(200, b"late", "text/plain")
        else:
            echo = {"method": self.command, "path": self.path, "body": body,
                    "headers": {k.lower(): v for k, v in self.headers.items()}}
            self._reply(200, json.dumps(echo).encode(), "application/json",
                        {"X-Served-By": "test"})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve_http(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        yield url


def core_http() -> ActionMeta:
    _, actions, _ = load_pack(BUNDLED_PACKS_DIR / "core")
    return next(a for a in actions if a.ref == "core.http")


def test_post_json_body_headers_auth_and_cookies(server: str) -> None:
    req = request(core_http(), {
        "url": f"{server}/echo", "method": "POST", "body": '{"a": 1}',
        "headers": "Content-Type=application/json,X-Trace=t1", "params": "q=1",
        "cookies": {"c": "v"}, "username": "u", "password": "p",
    })
    outcome = run(run_action(req, Output()))
    assert outcome.status == "succeeded", outcome.result
    result = outcome.result
    assert result["status_code"] == 200 and result["parsed"] is True
    assert result["headers"]["x-served-by"] == "test"
    body = result["body"]
    assert body["method"] == "POST" and body["path"] == "/echo?q=1"
    assert json.loads(body["body"]) == {"a": 1}
    assert body["headers"]["x-trace"] == "t1"
    assert body["headers"]["authorization"].startswith("Basic ")
    assert body["headers"]["cookie"] == "c=v"


def test_object_body_sent_as_json_and_auth_string(server: str) -> None:
    req = request(core_http(), {"url": f"{server}/echo", "method": "PUT",
                                "body": {"k": [1, 2]}, "auth": "x-auth-token=XYZ"})
    body = run(run_action(req, Output())).result["body"]
    assert json.loads(body["body"]) == {"k": [1, 2]}
    assert body["headers"]["content-type"] == "application/json"
    assert body["headers"]["x-auth-token"] == "XYZ"


def test_text_body_not_parsed(server: str) -> None:
    outcome = run(run_action(request(core_http(), {"url": f"{server}/text"}), Output()))
    assert outcome.result["body"] == "plain words" and outcome.result["parsed"] is False


def test_error_status_fails_with_the_response(server: str) -> None:
    outcome = run(run_action(request(core_http(), {"url": f"{server}/fail"}), Output()))
    assert outcome.status == "failed"
    assert outcome.result["status_code"] == 503 and outcome.result["body"] == {"error": "down"}


def test_redirects_followed_only_when_allowed(server: str) -> None:
    plain = run(run_action(request(core_http(), {"url": f"{server}/redirect"}), Output()))
    assert plain.result["status_code"] == 302
    followed = run(run_action(request(core_http(), {"url": f"{server}/redirect",
                                                    "allow_redirects": True}), Output()))
    assert followed.status == "succeeded"
    assert followed.result["body"]["path"] == "/echo?redirected=1"


def test_slow_server_times_out(server: str) -> None:
    started = time.monotonic()
    outcome = run(run_action(request(core_http(), {"url": f"{server}/slow", "timeout": 0.5}),
                             Output()))
    assert outcome.status == "timeout" and "timeout" in outcome.result["error"]
    assert time.monotonic() - started < 2.5


def test_connection_refused_and_bad_url_fail_clearly() -> None:
    from tests.conftest import free_port

    port = free_port()
    url = f"http://bob:hunter2@127.0.0.1:{port}/"
    outcome = run(run_action(request(core_http(), {"url": url}), Output()))
    assert outcome.status == "failed"
    assert f"http://127.0.0.1:{port}/" in outcome.result["error"]
    assert "hunter2" not in outcome.result["error"]
    bad = run(run_action(request(core_http(), {"url": "ftp://x"}), Output()))
    assert bad.status == "failed" and "'url'" in bad.result["error"]


@pytest.mark.parametrize(("text", "sent"), [('{"a": 1, "b": [true]}', {"a": 1, "b": [True]}),
                                            (' [1, "x"]', [1, "x"])])
def test_json_text_for_the_typed_body_is_sent_as_json(server: str, text: str,
                                                       sent: object) -> None:
    # ``levante run core.http body='{"a": 1}'`` gives a string: body may be an object or an
    # array, so the text is taken as one, and sent as JSON with its Content-Type.
    req = request(core_http(), {"url": f"{server}/echo", "method": "POST", "body": text})
    assert req.parameters["body"] == sent
    body = run(run_action(req, Output())).result["body"]
    assert json.loads(body["body"]) == sent
    assert body["headers"]["content-type"] == "application/json"


def test_text_body_that_is_not_json_is_sent_as_it_is(server: str) -> None:
    req = request(core_http(), {"url": f"{server}/echo", "method": "POST",
                                "body": "{not json"})
    assert req.parameters["body"] == "{not json"
    body = run(run_action(req, Output())).result["body"]
    assert body["body"] == "{not json"
    assert "content-type" not in body["headers"]
