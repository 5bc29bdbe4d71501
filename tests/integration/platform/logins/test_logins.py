"""Password logins over real HTTP: tokens from Basic credentials, /v1/user, the extra port."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from levante.platform.logins.listeners import ExtraListener, OnlyPaths
from levante.platform.logins.users import set_password, users_path
from tests.conftest import free_port, levante_bin
from tests.integration.platform.service.conftest import Background, Served, wait_status


def _users(served: Served) -> None:
    path = users_path(served.config)
    set_password(path, "alice", "s3cret pass", create=True)
    set_password(path, "bob", "other", create=True)


def _root(served: Served) -> str:
    return served.url.removesuffix("/v1")


def _expiry(doc: dict[str, str]) -> float:
    stamp = datetime.strptime(doc["expiry"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return stamp.timestamp() - time.time()


def test_login_gives_a_token_that_opens_the_api(served: Served) -> None:
    _users(served)
    made = httpx.post(_root(served) + "/auth/v1/tokens", auth=("alice", "s3cret pass"),
                      json={}, timeout=10)
    assert made.status_code == 201, made.text
    doc = made.json()
    assert doc["user"] == "alice" and doc["token"]
    assert 86000 < _expiry(doc) <= 86400  # [auth] token_ttl

    headers = {"X-Auth-Token": doc["token"]}
    with httpx.Client(base_url=served.url, headers=headers, timeout=10) as client:
        me = client.get("/user").json()
        assert me["username"] == "alice"
        assert me["authentication"]["method"] == "authentication token"
        assert me["authentication"]["location"] == "header"
        assert me["authentication"]["token_expire"] == doc["expiry"]
        # An execution started with the token is alice's.
        started = client.post("/executions", json={"action": "core.noop"})
        assert started.status_code == 201, started.text
        done = wait_status(client, started.json()["id"], {"succeeded"})
        assert done["context"]["user"] == "alice"
        # An API key made by alice belongs to her.
        key = client.post("/apikeys", json={}).json()
        assert key["user"] == "alice"
    # The token in the query string (what the stream client sends) works too.
    me = httpx.get(served.url + "/user", params={"x-auth-token": doc["token"]}, timeout=10)
    assert me.json()["authentication"]["location"] == "query"


def test_wrong_credentials_are_refused_clearly(served: Served) -> None:
    _users(served)
    url = _root(served) + "/auth/v1/tokens"
    for user, password in (("alice", "Zq9-guess"), ("nobody", "s3cret pass"), ("bob", "")):
        refused = httpx.post(url, auth=(user, password), timeout=10)
        assert refused.status_code == 401
        assert refused.json()["faultstring"] == (
            "Unauthorized - the user name or password is wrong.")
        assert password not in refused.text or not password
    garbled = httpx.post(url, headers={"Authorization": "Basic %%%"}, timeout=10)
    assert garbled.status_code == 401
    assert "HTTP Basic" in garbled.json()["faultstring"]
    # Without any credentials, the guard asks for some.
    bare = httpx.post(url, timeout=10)
    assert bare.status_code == 401
    # A token from a refused login is never made: a made-up one does not open the API.
    assert httpx.get(served.url + "/user", headers={"X-Auth-Token": "0" * 32},
                     timeout=10).status_code == 401


def test_ttl_asked_is_bounded(served: Served) -> None:
    _users(served)
    url = _root(served) + "/tokens"  # st2client's default auth URL has no /auth/v1
    short = httpx.post(url, auth=("bob", "other"), json={"ttl": 60}, timeout=10)
    assert short.status_code == 201, short.text
    assert 50 < _expiry(short.json()) <= 60
    long = httpx.post(url, auth=("bob", "other"), json={"ttl": 10**9}, timeout=10)
    assert _expiry(long.json()) <= 86400
    bad = httpx.post(url, auth=("bob", "other"), json={"ttl": "soon"}, timeout=10)
    assert bad.status_code == 400 and "'ttl'" in bad.json()["faultstring"]
    # The API key exchange answers on the short path too.
    by_key = httpx.post(url, headers={"St2-Api-Key": served.key}, json={}, timeout=10)
    assert by_key.status_code == 201 and by_key.json()["user"] == "admin"


def test_whoami_with_an_api_key(served: Served) -> None:
    with served.client() as client:
        me = client.get("/user")
        assert me.status_code == 200
        assert me.json()["username"] == "admin"
        assert me.json()["authentication"] == {"method": "api key", "location": "header"}
    assert httpx.get(served.url + "/user", timeout=10).status_code == 401


def test_the_auth_port_serves_only_tokens(served: Served) -> None:
    _users(served)
    port = free_port()
    listener = ExtraListener("auth", OnlyPaths(_app(served), ("/tokens", "/auth/v1/tokens")),
                             "127.0.0.1", port)
    background = Background([listener])
    background.start()
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                made = httpx.post(url + "/tokens", auth=("alice", "s3cret pass"), timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.02)
        assert made.status_code == 201 and made.json()["user"] == "alice"
        other = httpx.get(url + "/v1/actions", headers={"St2-Api-Key": served.key},
                          timeout=5)
        assert other.status_code == 404
    finally:
        background.stop()


def test_a_taken_port_is_skipped_not_fatal(served: Served) -> None:
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    listener = ExtraListener("auth", _app(served), "127.0.0.1", port)
    background = Background([listener])
    background.start()
    try:
        time.sleep(0.3)
        assert background.thread.is_alive() and background.error is None
    finally:
        background.stop()
        holder.close()
    assert not background.thread.is_alive()


def _app(served: Served) -> object:
    from levante.platform.api.app import create_app

    return create_app(served.config, served.engine)


def test_levante_user_commands(tmp_path: Path) -> None:
    home = tmp_path
    conf = home / "levante.conf"
    conf.write_text(f"[core]\ndata_dir = {home / 'data'}\n", encoding="utf-8")
    levante = levante_bin("levante")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([levante, "--config-file", str(conf), "user", *args],
                              capture_output=True, text=True, timeout=60)

    added = run("add", "carol", "-p", "pw1")
    assert added.returncode == 0, added.stderr
    assert "Added user carol" in added.stdout
    text = (home / "data" / "htpasswd").read_text()
    assert text.startswith("carol:$2b$") and "pw1" not in text
    assert (home / "data" / "htpasswd").stat().st_mode & 0o077 == 0
    again = run("add", "carol", "-p", "pw2")
    assert again.returncode == 2 and "already exists" in again.stderr
    assert run("passwd", "carol", "-p", "pw2").returncode == 0
    assert run("list").stdout.split() == ["carol"]
    assert json.loads(run("list", "-j").stdout) == ["carol"]
    bad = run("add", "no:colons", "-p", "x")
    assert bad.returncode == 2 and "not allowed" in bad.stderr
    assert run("delete", "carol").returncode == 0
    missing = run("passwd", "carol", "-p", "x")
    assert missing.returncode == 2 and 'user "carol" is not in' in missing.stderr
