"""`st2kv()` in YAQL and Jinja: arguments as StackStorm's, the key split into scope and
name, and an evaluation without a workflow execution saying so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from levante.engine.datastore_client import Datastore, KeyNotFound, Where, split_key
from levante.engine.expressions import DataContext, ExpressionError, evaluate
from tests.harness import serve_http


class _Ctx(DataContext):
    def __init__(self) -> None:
        super().__init__({})
        self.calls: list[tuple[Any, ...]] = []

    def st2kv(self, key: Any, decrypt: bool = False, default: Any = None) -> Any:
        self.calls.append((key, decrypt, default))
        return f"v:{key}"


def test_calls_in_both_languages() -> None:
    ctx = _Ctx()
    assert evaluate("<% st2kv('system.x') %>", {}, ctx) == "v:system.x"
    evaluate("<% st2kv('system.x', decrypt => true) %>", {}, ctx)
    evaluate("{{ st2kv('system.y', decrypt=true) }}", {}, ctx)
    evaluate("<% st2kv('k', default => 'd') %>", {}, ctx)
    assert ctx.calls[1:] == [("system.x", True, None), ("system.y", True, None),
                             ("k", False, "d")]
    with pytest.raises(ExpressionError, match="'decrypt' must be true or false"):
        evaluate("{{ st2kv('system.x', decrypt='yes') }}", {}, ctx)


def test_outside_a_workflow_execution() -> None:
    with pytest.raises(ExpressionError, match="workflow executions only"):
        evaluate("<% st2kv('system.x') %>", {}, DataContext({}))


def test_split_key() -> None:
    assert split_key("system.a.b") == ("system", "a.b")
    assert split_key("user.t") == ("user", "t")
    assert split_key("t") == ("user", "t")


class _Keys(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        found = self.path.startswith("/v1/keys/colour?")
        body = json.dumps({"value": "blue"} if found else {"faultstring": "no"}).encode()
        self.send_response(200 if found else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def platform_url() -> Iterator[str]:
    with serve_http(ThreadingHTTPServer(("127.0.0.1", 0), _Keys)) as url:
        yield url


def test_a_datastore_keeps_its_own_client(platform_url: str) -> None:
    """Each runtime's `Datastore` reads over its own client, made at its first read."""
    where = Where(platform_url, None, None)
    first, second = Datastore(), Datastore()
    assert first.read_key(where, "system.colour") == "blue"
    client = first._http()
    assert first.read_key(where, "colour") == "blue"
    assert first._http() is client  # kept between reads
    with pytest.raises(KeyNotFound, match=r"system\.nope"):
        second.read_key(where, "system.nope")
    assert second._http() is not client
    first.close()
    assert client.is_closed
    assert first.read_key(where, "colour") == "blue"  # a new client after close
    second.close()
    first.close()
