"""The fast paths: claim by the ids wake-ups carry, many ends in one statement, and the
hand-over of a new execution from the API to the runner of the same process."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine

from levante.db import manage
from levante.db.connect import make_engine
from levante.platform.core import executions as ex
from levante.platform.core import store
from levante.platform.core.pack_registry import register_packs
from levante.platform.core.runner_service import RunnerService
from tests.integration.platform.service.conftest import (
    Background,
    Db,
    Served,
    make_config,
    wait_status,
)


def test_claim_by_ids_takes_only_those_still_requested(platform_db: Db) -> None:
    db = platform_db.engine
    first, second, third = (ex.create_execution(db, "core.noop", {}, "a") for _ in range(3))
    taken = store.claim_requested(db, "p1", 8, 60, ids=[third["id"], second["id"], "nope"])
    assert [r["id"] for r in taken] == [second["id"], third["id"]]  # oldest first
    assert all(r["status"] == "running" and r["claimed_by"] == "p1" for r in taken)
    assert [e["status"] for e in taken[0]["log"]] == ["requested", "running"]
    assert store.claim_requested(db, "p2", 8, 60, ids=[second["id"]]) == []
    assert store.claim_requested(db, "p2", 8, 60, ids=[]) == []
    rest = store.claim_requested(db, "p2", 8, 60)
    assert [r["id"] for r in rest] == [first["id"]]
    assert ex.get_execution(db, second["id"])["claimed_by"] == "p1"


def test_many_ends_in_one_call_skip_those_changed_meanwhile(platform_db: Db) -> None:
    db = platform_db.engine
    rows = [ex.create_execution(db, "core.noop", {}, "a") for _ in range(3)]
    taken = store.claim_requested(db, "p1", 8, 60)
    assert len(taken) == 3
    late = taken[2]
    assert store.transition(db, late["id"], ["running"], "canceling")
    done = store.finish_many(db, [
        (r["id"], status, {"n": i}, r["log"])
        for i, (r, status) in enumerate(zip(taken, ["succeeded", "failed", "succeeded"],
                                            strict=True))
    ])
    assert done == {taken[0]["id"], taken[1]["id"]}
    first = ex.get_execution(db, taken[0]["id"])
    assert first["status"] == "succeeded" and first["result"] == {"n": 0}
    assert [e["status"] for e in first["log"]] == ["requested", "running", "succeeded"]
    assert first["end_timestamp"] is not None and first["lease_until"] is None
    assert ex.get_execution(db, taken[1]["id"])["status"] == "failed"
    assert ex.get_execution(db, late["id"])["status"] == "canceling"
    assert {r["id"] for r in rows} == {r["id"] for r in taken}


def test_api_hands_a_new_execution_to_the_runner_of_its_process(served: Served) -> None:
    deadline = time.monotonic() + 5
    while served.runner._loop is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with served.client() as client:
        created = client.post("/executions", json={"action": "core.noop"}).json()
        assert created["status"] == "running"  # stored already claimed: no claim needed
        done = wait_status(client, created["id"], set(ex.DONE))
    assert done["status"] == "succeeded"
    assert [e["status"] for e in done["log"]] == ["requested", "running", "succeeded"]
    row = ex.get_execution(served.engine, created["id"])
    assert row["claimed_by"] == served.runner.process_id
    assert served.runner._reserved == 0


class _Taker:
    """Stands in for a runner loop with a free worker: takes whatever it is offered."""

    def __init__(self) -> None:
        self.accepted: list[str] = []

    def reserve(self, db: Engine) -> dict[str, Any] | None:
        return {"claimed_by": "stand-in", "lease_until": None}

    def alone_on(self, db: Engine) -> bool:
        return True

    def release(self) -> None:
        pass

    def accept(self, row: dict[str, Any]) -> None:
        self.accepted.append(row["id"])


def test_two_engines_of_one_process_share_no_wake_ups_nor_takers(platform_db: Db,
                                                                  migrated_url: str) -> None:
    """What a process keeps about a database is its engine's (levante.db.local): the
    runner loops on one engine hear of, and take, only what is stored through it."""
    db = platform_db.engine
    other = make_engine(migrated_url)
    heard: list[str] = []

    def listener(event: str, execution_id: str) -> None:
        heard.append(execution_id)

    taker = _Taker()
    ex.add_listener(db, listener)
    try:
        assert ex.has_listener(db, listener) and not ex.has_listener(other, listener)
        ex.create_execution(other, "core.noop", {}, "a")
        assert heard == []
        here = ex.create_execution(db, "core.noop", {}, "a")
        assert heard == [here["id"]]
        ex.add_taker(db, taker)
        elsewhere = ex.create_execution(other, "core.noop", {}, "a")
        assert elsewhere["status"] == "requested" and taker.accepted == []
        taken = ex.create_execution(db, "core.noop", {}, "a")
        assert taken["status"] == "running" and taker.accepted == [taken["id"]]
    finally:
        ex.remove_taker(db, taker)
        ex.remove_listener(db, listener)
        other.dispose()


def _notes(conn: psycopg.Connection[Any]) -> list[str]:
    return [n.payload for n in conn.notifies(timeout=0.5)]


def test_notify_only_when_another_runner_may_listen(postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL: the lone runner hears of work in-process; NOTIFY once it has a peer."""
    manage.upgrade(postgres_url, "head")
    config = make_config(tmp_path, postgres_url, extra={("runner", "workers"): 1})
    engine = make_engine(postgres_url)
    register_packs(engine, config.get_list("content", "packs_paths"))
    runner = RunnerService(config, engine)
    background = Background([runner])
    background.start()
    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, autocommit=True) as listening:
            listening.execute(f"LISTEN {store.NOTIFY_CHANNEL}")
            deadline = time.monotonic() + 5
            while not runner.alone_on(engine):
                assert time.monotonic() < deadline
                time.sleep(0.01)
            busy = ex.create_execution(engine, "core.local", {"cmd": "sleep 2"}, "a")
            assert busy["status"] == "running"  # handed over: the only worker is busy now
            waiting = ex.create_execution(engine, "core.noop", {}, "a")
            assert waiting["status"] == "requested"
            assert _notes(listening) == []
            store.register_process(engine, "peer", "runner")
            runner._count_peers()
            again = ex.create_execution(engine, "core.noop", {}, "a")
            assert [p.split(":")[:2] for p in _notes(listening)] == [["requested", again["id"]]]
            store.deregister_process(engine, "peer")
    finally:
        background.stop()
        engine.dispose()
