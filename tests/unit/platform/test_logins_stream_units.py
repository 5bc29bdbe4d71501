"""Small pure parts of logins and the stream: the users file, Basic credentials, payloads."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

from levante.platform.api.common import ApiError
from levante.platform.logins.api import parse_basic, ttl_of
from levante.platform.logins.users import (
    UsersFileError,
    check_password,
    hash_password,
    read_users,
    set_password,
)
from levante.platform.stream import changes
from levante.platform.stream.hub import Filter


def test_users_file_accepts_bcrypt_only(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                        ) -> None:
    path = tmp_path / "htpasswd"
    digest = hash_password("pw", rounds=4)
    apache = "$2y$" + digest[4:]  # htpasswd -B writes $2y$
    path.write_text(f"# comment\nann:{digest}\nbea:{apache}\nmd5:$apr1$abc$def\n"
                    "broken line\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        users = read_users(path)
    assert sorted(users) == ["ann", "bea"]
    assert "line 4" in caplog.text and "line 5" in caplog.text
    assert "$apr1$" not in caplog.text  # never the hash itself
    assert check_password(path, "ann", "pw") and check_password(path, "bea", "pw")
    assert not check_password(path, "ann", "PW")
    assert not check_password(path, "md5", "pw") and not check_password(path, "zed", "pw")
    assert read_users(tmp_path / "missing") == {}


def test_set_password_keeps_other_lines(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    path.write_text("# operators\n", encoding="utf-8")
    set_password(path, "ann", "one", create=True)
    set_password(path, "bob", "two", create=True)
    set_password(path, "ann", "three", create=False)
    text = path.read_text(encoding="utf-8").splitlines()
    assert text[0] == "# operators" and [t.split(":")[0] for t in text[1:]] == ["ann", "bob"]
    assert check_password(path, "ann", "three") and not check_password(path, "ann", "one")
    with pytest.raises(UsersFileError, match="already exists"):
        set_password(path, "bob", "x", create=True)
    with pytest.raises(UsersFileError, match="not allowed"):
        set_password(path, "a b", "x", create=True)
    with pytest.raises(UsersFileError, match="must not be empty"):
        set_password(path, "cid", "", create=True)


def test_basic_credentials_and_ttl() -> None:
    raw = base64.b64encode(b"ann:p:w").decode()
    assert parse_basic(raw) == ("ann", "p:w")  # the password may hold colons
    assert parse_basic("%%%") is None
    assert parse_basic(base64.b64encode(b"no-colon").decode()) is None
    assert ttl_of({}, 100) == 100 and ttl_of({"ttl": 10}, 100) == 10
    assert ttl_of({"ttl": 1000}, 100) == 100
    for bad in (0, -1, "5", True, 1.5):
        with pytest.raises(ApiError):
            ttl_of({"ttl": bad}, 100)


def test_stream_payloads_and_filters() -> None:
    assert changes.parse("update||a,b") == ("update", None, ["a", "b"])
    assert changes.parse("output|7|a") == ("output", 7, ["a"])
    assert changes.parse("requested:a:tok") is None  # the runners' wake-ups
    assert changes.parse("drop|1|a") is None
    wanted = Filter(frozenset({"st2.execution__update"}), frozenset({"core.local"}), None)
    assert wanted.wants("st2.execution__update", "core.local", "x")
    assert not wanted.wants("st2.execution__create", "core.local", "x")
    assert not wanted.wants("st2.execution__update", "core.noop", "x")
    assert Filter().wants("anything", "any", "id")
