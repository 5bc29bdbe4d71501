"""The real `st2 key` commands and `levante key` against `levante serve api`, on SQLite
and PostgreSQL: set/get/list/delete/load/delete_by_prefix, with and without --encrypt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from levante.db.connect import make_engine
from levante.platform.datastore.tables import kv_pairs
from tests.acceptance.platform.conftest import Platform
from tests.acceptance.platform.test_st2_cli import ST2, st2

pytestmark = pytest.mark.skipif(not ST2.exists(), reason="st2client is not installed")

SECRET = "p4ss-w0rd-hidden"


def _json(done: object) -> object:
    assert done.returncode == 0, done.stdout + done.stderr  # type: ignore[attr-defined]
    return json.loads(done.stdout)  # type: ignore[attr-defined]


@pytest.mark.timeout(600)  # some thirty runs of the st2 CLI, each a Python start
def test_st2_key_commands(sqlite_platform: Platform, tmp_path: Path) -> None:
    # The store's SQL runs on PostgreSQL in test_levante_key_commands and the API tests.
    platform = sqlite_platform
    home = tmp_path / "home"
    home.mkdir()
    made = platform.levante("key", "generate-crypto-key")
    assert made.returncode == 0 and "Wrote the datastore's crypto key" in made.stdout
    again = platform.levante("key", "generate-crypto-key")
    assert again.returncode != 0 and "already exists" in again.stderr

    assert st2(platform, home, "key", "list").stdout.strip() == "No matching items found"
    done = st2(platform, home, "key", "set", "endpoint", "http://example.test")
    assert done.returncode == 0 and "http://example.test" in done.stdout, done.stderr
    got = _json(st2(platform, home, "key", "get", "endpoint", "-j"))
    assert got["value"] == "http://example.test" and got["scope"] == "st2kv.system"  # type: ignore[index]
    assert "endpoint" in st2(platform, home, "key", "list").stdout

    done = st2(platform, home, "key", "set", "password", SECRET, "--encrypt")
    assert done.returncode == 0 and SECRET not in done.stdout, done.stdout + done.stderr
    hidden = _json(st2(platform, home, "key", "get", "password", "-j"))
    assert hidden["secret"] is True and SECRET not in hidden["value"]  # type: ignore[index]
    shown = _json(st2(platform, home, "key", "get", "password", "--decrypt", "-j"))
    assert shown["value"] == SECRET  # type: ignore[index]
    # (JSON: a table may wrap a long value over lines, depending on the terminal's width)
    assert SECRET not in st2(platform, home, "key", "list", "-j").stdout
    assert SECRET in st2(platform, home, "key", "list", "--decrypt", "-j").stdout
    engine = make_engine(platform.database_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(select(kv_pairs.c.value)
                                  .where(kv_pairs.c.name == "password")).scalar_one()
    finally:
        engine.dispose()
    assert SECRET not in stored

    done = st2(platform, home, "key", "set", "mine", "v1", "--scope", "user", "--ttl", "600")
    assert done.returncode == 0, done.stdout + done.stderr
    mine = _json(st2(platform, home, "key", "get", "mine", "--scope", "user", "-j"))
    assert mine["scope"] == "st2kv.user" and mine["expire_timestamp"]  # type: ignore[index]
    users = _json(st2(platform, home, "key", "list", "--scope", "user", "-j"))
    assert [(d["name"], d["user"]) for d in users] == [("mine", "admin")]  # type: ignore[union-attr]

    data = tmp_path / "keys.json"
    data.write_text(json.dumps([
        {"name": "app.one", "value": "1"},
        {"name": "app.two", "value": "two", "secret": True},
        {"name": "app.three", "value": {"a": 1}},
    ]))
    refused = st2(platform, home, "key", "load", str(data))
    assert refused.returncode != 0 and "not a string" in refused.stdout + refused.stderr
    loaded = st2(platform, home, "key", "load", "-c", str(data))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    listed = _json(st2(platform, home, "key", "list", "--prefix", "app.", "-j"))
    assert sorted(d["name"] for d in listed) == ["app.one", "app.three", "app.two"]  # type: ignore[union-attr]
    three = _json(st2(platform, home, "key", "get", "app.three", "-j"))
    assert json.loads(three["value"]) == {"a": 1}  # type: ignore[index]
    # `key list -j` loads back as it is, the secrets still encrypted.
    dump = tmp_path / "dump.json"
    dump.write_text(st2(platform, home, "key", "list", "--prefix", "app.", "-j").stdout)
    assert st2(platform, home, "key", "delete_by_prefix", "-p", "app.").returncode == 0
    assert _json(st2(platform, home, "key", "list", "--prefix", "app.", "-j")) == []
    assert st2(platform, home, "key", "load", str(dump)).returncode == 0
    two = _json(st2(platform, home, "key", "get", "app.two", "--decrypt", "-j"))
    assert two["value"] == "two"  # type: ignore[index]

    assert st2(platform, home, "key", "delete", "endpoint").returncode == 0
    missing = st2(platform, home, "key", "get", "endpoint")
    assert missing.returncode != 0
    assert "endpoint" in missing.stdout + missing.stderr
    deleted = st2(platform, home, "key", "delete", "mine", "--scope", "user")
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr


def test_levante_key_commands(platform: Platform, tmp_path: Path) -> None:
    assert platform.levante("key", "generate-crypto-key").returncode == 0
    done = platform.levante("key", "set", "colour", "blue")
    assert done.returncode == 0 and "blue" in done.stdout, done.stderr
    done = platform.levante("key", "set", "token", SECRET, "-e", "--ttl", "60")
    assert done.returncode == 0 and SECRET not in done.stdout
    listed = platform.levante("key", "list")
    assert "colour" in listed.stdout and SECRET not in listed.stdout
    got = json.loads(platform.levante("key", "get", "token", "--decrypt", "-j").stdout)
    assert got["value"] == SECRET and got["expire_timestamp"]
    data = tmp_path / "keys.yaml"
    data.write_text("- {name: a, value: x}\n- {name: b, value: y, secret: true}\n")
    assert "Loaded 2 key(s)" in platform.levante("key", "load", str(data)).stdout
    assert platform.levante("key", "delete", "colour").returncode == 0
    missing = platform.levante("key", "get", "colour")
    assert missing.returncode != 0 and 'Key "colour" does not exist' in missing.stderr
    bad = platform.levante("key", "list", "--scope", "galaxy")
    assert bad.returncode != 0 and "not a datastore scope" in bad.stderr
