"""The datastore in the platform's Jinja (real SQLite): st2kv.system/user lookups,
dotted names, a missing key named, decrypt_kv."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from levante.db.connect import make_engine
from levante.platform.core.jinja_render import RenderError, render_value
from levante.platform.datastore import crypto, pairs, render
from levante.platform.datastore.pairs import Caller, Datastore
from tests.harness import migrated_sqlite


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrated_sqlite(url)
    engine = make_engine(url)
    key = tmp_path / "key"
    crypto.write_key(key)
    render.configure(engine, key)
    ds = Datastore(engine, key)
    admin = Caller("admin", True)
    pairs.set_pair(ds, admin, "colour", {"value": "blue"})
    pairs.set_pair(ds, admin, "app.url", {"value": "http://x"})
    pairs.set_pair(ds, admin, "pw", {"value": "hunter2", "secret": True})
    pairs.set_pair(ds, Caller("alice", False), "tok", {"value": "t", "scope": "user"})
    try:
        yield engine
    finally:
        engine.dispose()


def test_lookups(db: Engine) -> None:
    names = render.names(db, "alice")
    assert render_value("{{ st2kv.system.colour }}", names) == "blue"
    assert render_value("{{ system.colour }}-{{ st2kv.user.tok }}", names) == "blue-t"
    assert render_value("{{ st2kv.system.app.url }}", names) == "http://x"
    assert render_value("{{ st2kv.system['colour'] | upper }}", names) == "BLUE"
    assert render_value("{{ st2kv.system.pw | decrypt_kv }}", names) == "hunter2"
    assert "hunter2" not in render_value("{{ st2kv.system.pw }}", names)
    cipher = str(render_value("{{ st2kv.system.pw }}", names))
    assert render_value("{{ c | decrypt_kv }}", {**names, "c": cipher}) == "hunter2"


def test_missing_keys_and_bad_values_are_named(db: Engine) -> None:
    names = render.names(db, "bob")
    for template, text in (
        ("{{ st2kv.system.nokey }}", 'Key "nokey" does not exist in the datastore '
                                     "(system scope)"),
        ("x{{ st2kv.system.no.such }}", 'Key "no.such" does not exist'),
        ("{{ st2kv.user.tok }}", "(user scope of 'bob')"),
        ("{{ st2kv.system.nokey | decrypt_kv }}", 'Key "nokey" does not exist'),
        ("{{ 'plain' | decrypt_kv }}", "not an encrypted datastore value"),
    ):
        with pytest.raises(RenderError) as caught:
            render_value(template, names)
        assert text in str(caught.value), caught.value
