"""`st2 login`, `st2 auth` and `st2 whoami` (the real st2 CLI) against a running platform."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from levante.platform.logins.users import set_password
from tests.acceptance.platform.conftest import Platform
from tests.acceptance.platform.test_st2_cli import ANSI, ST2
from tests.conftest import free_port
from tests.harness import clean_environ

pytestmark = pytest.mark.skipif(
    not ST2.exists(), reason="st2client is not installed: run `make clients`"
)


def st2(platform: Platform, home: Path, auth_url: str, *args: str,
        ) -> subprocess.CompletedProcess[str]:
    """st2 with no key: only what `st2 login` left in HOME authenticates it."""
    env = clean_environ(HOME=str(home))
    done = subprocess.run(
        [str(ST2), "--api-url", f"{platform.url}/v1", "--auth-url", auth_url, *args],
        capture_output=True, text=True, env=env, timeout=120,
    )
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       ANSI.sub("", done.stdout), ANSI.sub("", done.stderr))


def test_st2_login_then_commands_with_the_token(sqlite_platform: Platform,
                                               tmp_path: Path) -> None:
    """Users are a file and tokens a plain table: SQLite is enough."""
    platform = sqlite_platform
    set_password(platform.data_dir / "htpasswd", "alice", "Tr0ub4dor&3", create=True)
    home = tmp_path / "home"
    home.mkdir()
    auth_url = f"{platform.url}/auth/v1"

    before = st2(platform, home, auth_url, "whoami")
    # st2client tests the 401 response's truth, which is false: it never says "Not
    # authenticated", only this.
    assert "Unable to retrieve currently logged-in user" in before.stdout

    bad = st2(platform, home, auth_url, "login", "alice", "-p", "Zq9-guess")
    assert bad.returncode != 0
    assert "Failed to log in as alice" in bad.stdout + bad.stderr
    assert "user name or password is wrong" in bad.stdout + bad.stderr

    login = st2(platform, home, auth_url, "login", "alice", "-p", "Tr0ub4dor&3")
    assert login.returncode == 0, login.stdout + login.stderr
    assert "Logged in as alice" in login.stdout
    assert "Tr0ub4dor&3" not in (home / ".st2" / "config").read_text()
    assert (home / ".st2" / "token-alice").exists()

    me = st2(platform, home, auth_url, "whoami")
    assert me.returncode == 0, me.stderr
    assert 'Currently logged in as "alice".' in me.stdout
    assert "Authentication method: authentication token" in me.stdout

    ran = st2(platform, home, auth_url, "run", "core.local", "cmd=echo logged-in")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "status: succeeded" in ran.stdout and "logged-in" in ran.stdout
    execution_id = re.search(r"id: ([0-9a-f]{24})", ran.stdout)
    assert execution_id
    got = st2(platform, home, auth_url, "execution", "get", execution_id.group(1), "-j")
    assert '"user": "alice"' in got.stdout

    token = st2(platform, home, auth_url, "auth", "alice", "-p", "Tr0ub4dor&3", "-t")
    assert token.returncode == 0, token.stderr
    assert re.fullmatch(r"[0-9a-f]{32}\n", token.stdout)
    refused = st2(platform, home, auth_url, "auth", "alice", "-p", "Zq9-guess")
    assert refused.returncode != 0
    assert "user name or password is wrong" in refused.stdout + refused.stderr


def test_st2_login_and_tail_on_the_extra_ports(sqlite_platform: Platform,
                                              tmp_path: Path) -> None:
    """The API process also listens on [api] auth_port and [api] stream_port, where
    st2client looks by default (9100 and 9102 there; free ports here, named with
    --auth-url and --stream-url, so tests never collide)."""
    platform = sqlite_platform
    set_password(platform.data_dir / "htpasswd", "bob", "b0b-pass", create=True)
    auth_port, stream_port = free_port(), free_port()
    conf = platform.config_dir / "levante.conf"
    conf.write_text(conf.read_text().replace(
        "[api]\n", f"[api]\nauth_port = {auth_port}\nstream_port = {stream_port}\n"))
    platform.stop("api")
    platform.start("api")
    platform.wait_up(platform.url)
    home = tmp_path / "home"
    home.mkdir()
    auth_url = f"http://127.0.0.1:{auth_port}"
    login = st2(platform, home, auth_url, "login", "bob", "-p", "b0b-pass")
    assert login.returncode == 0, login.stdout + login.stderr
    me = st2(platform, home, auth_url, "whoami")
    assert 'Currently logged in as "bob".' in me.stdout
    # The stream port serves the stream (and nothing else).
    go = tmp_path / "go"
    started = st2(platform, home, auth_url, "run", "core.local",
                  f"cmd=while [ ! -f {go} ]; do sleep 0.05; done; "
                  "for i in 1 2 3; do echo tick$i; sleep 0.3; done", "-a")
    # Output starts once the tail below had time to subscribe (Python starts slowly on a
    # loaded machine): st2 shows only what comes after it started, as StackStorm does.
    threading.Timer(6.0, go.touch).start()
    assert started.returncode == 0, started.stdout + started.stderr
    execution_id = re.search(r"([0-9a-f]{24})", started.stdout)
    assert execution_id
    tail = st2(platform, home, auth_url, "--stream-url", f"http://127.0.0.1:{stream_port}/v1",
               "execution", "tail", execution_id.group(1))
    assert tail.returncode == 0, tail.stdout + tail.stderr
    assert "tick1\ntick2\ntick3\n" in tail.stdout
    assert "has completed (status=succeeded)" in tail.stdout
    other = httpx.get(f"http://127.0.0.1:{stream_port}/v1/actions",
                      headers={"St2-Api-Key": platform.key}, timeout=10)
    assert other.status_code == 404
