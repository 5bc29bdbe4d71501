"""Executions as plain functions on SQLite and PostgreSQL: create, list, cancel, re-run."""

from __future__ import annotations

import re

import pytest

from levante.platform.core import executions as ex
from levante.platform.core import store
from levante.platform.core.parameters import ParameterError
from tests.integration.platform.service.conftest import Db

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_create_checks_parameters_before_storing(platform_db: Db) -> None:
    db = platform_db.engine
    with pytest.raises(ex.NotFound, match=r'Action "core\.nope" cannot be found'):
        ex.create_execution(db, "core.nope", {}, "alice")
    with pytest.raises(ParameterError) as missing:
        ex.create_execution(db, "testpack.secret", {}, "alice")
    assert missing.value.parameter == "password"
    with pytest.raises(ParameterError) as enum:
        ex.create_execution(db, "testpack.secret", {"password": "x", "colour": "blue"}, "a")
    assert enum.value.parameter == "colour"
    with pytest.raises(ParameterError) as typed:
        ex.create_execution(db, "testpack.secret", {"password": "x", "count": "many"}, "a")
    assert typed.value.parameter == "count"
    with pytest.raises(ParameterError) as unknown:
        ex.create_execution(db, "testpack.secret", {"password": "x", "nope": 1}, "a")
    assert unknown.value.parameter == "nope"
    assert store.list_executions(db)[1] == 0


def test_create_records_a_requested_execution(platform_db: Db) -> None:
    db = platform_db.engine
    row = ex.create_execution(db, "testpack.secret", {"password": "hunter2", "count": "3"},
                              "alice")
    assert row["status"] == "requested"
    assert row["parameters"] == {"password": "hunter2", "colour": "red", "count": 3}
    view = ex.view(ex.get_execution(db, row["id"]), "http://x")
    assert view["parameters"]["password"] == "********"
    assert view["liveaction"]["parameters"]["password"] == "********"
    assert "hunter2" not in str(view)
    assert view["context"]["user"] == "alice"
    assert view["action"]["ref"] == "testpack.secret"
    assert view["runner"]["name"] == "noop"
    assert ISO.match(view["start_timestamp"])
    assert view["log"][0]["status"] == "requested"
    assert view["web_url"] == f"http://x/ui/#/history/{row['id']}/general"
    assert "end_timestamp" not in view


def test_list_filters_sorts_and_counts(platform_db: Db) -> None:
    db = platform_db.engine
    first = ex.create_execution(db, "core.noop", {}, "a")
    ex.create_execution(db, "testpack.secret", {"password": "p"}, "a")
    child = ex.create_execution(db, "core.noop", {}, "a", parent=first["id"])
    rows, total = store.list_executions(db, limit=2)
    assert total == 3 and len(rows) == 2
    assert rows[0]["id"] == child["id"]  # newest first
    rows, total = store.list_executions(db, ascending=True)
    assert rows[0]["id"] == first["id"]
    assert store.list_executions(db, action="core.noop")[1] == 2
    assert store.list_executions(db, parent="null")[1] == 2
    assert [r["id"] for r in store.list_executions(db, parent=first["id"])[0]] == [child["id"]]
    assert store.list_executions(db, status="succeeded")[1] == 0
    assert store.list_executions(db, limit=1, offset=2)[0][0]["id"] == first["id"]
    assert store.child_ids(db, [first["id"]]) == {first["id"]: [child["id"]]}


def test_cancel_of_a_requested_execution_ends_it_at_once(platform_db: Db) -> None:
    db = platform_db.engine
    row = ex.create_execution(db, "core.noop", {}, "a")
    after, reason = ex.request_cancel(db, row["id"])
    assert reason is None
    assert after["status"] == "canceled"
    assert [e["status"] for e in after["log"]] == ["requested", "canceled"]
    assert after["end_timestamp"] is not None
    _, again = ex.request_cancel(db, row["id"])
    assert again == 'Action is already in "canceled" state.'


def test_set_status_and_re_run(platform_db: Db) -> None:
    db = platform_db.engine
    row = ex.create_execution(db, "testpack.secret", {"password": "p", "count": 2}, "a")
    done = ex.set_status(db, row["id"], "succeeded", {"ok": True}, has_result=True)
    assert done["status"] == "succeeded" and done["result"] == {"ok": True}
    assert ex.view(done)["elapsed_seconds"] >= 0
    with pytest.raises(ex.Refused):
        ex.set_status(db, row["id"], "running")
    with pytest.raises(ParameterError):
        ex.set_status(db, row["id"], "bogus")
    again = ex.re_run(db, row["id"], {"count": "5"}, "bob")
    assert again["parameters"] == {"password": "p", "colour": "red", "count": 5}
    assert again["context"]["re-run"] == {"ref": row["id"]}
    assert again["id"] != row["id"]


def test_claims_never_hand_out_an_execution_twice(platform_db: Db) -> None:
    db = platform_db.engine
    ids = {ex.create_execution(db, "core.noop", {}, "a")["id"] for _ in range(5)}
    first = store.claim_requested(db, "p1", 3, 10)
    second = store.claim_requested(db, "p2", 10, 10)
    assert len(first) == 3 and len(second) == 2
    assert {r["id"] for r in first} | {r["id"] for r in second} == ids
    assert all(r["status"] == "running" and r["claimed_by"] == "p1" for r in first)
    assert store.claim_requested(db, "p3", 10, 10) == []


def test_a_handed_over_execution_keeps_the_first_result_it_gets(platform_db: Db) -> None:
    db = platform_db.engine
    row = ex.create_execution(db, "core.noop", {}, "a")
    store.claim_requested(db, "p", 1, 10)
    store.set_first_result(db, row["id"], {"tasks": ["first"]})
    store.set_first_result(db, row["id"], {"tasks": ["second"]})
    after = ex.get_execution(db, row["id"])
    assert after["result"] == {"tasks": ["first"]}
    assert after["status"] == "running" and after["end_timestamp"] is None
