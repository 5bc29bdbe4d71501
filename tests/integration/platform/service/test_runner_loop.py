"""The runner loop behind the API: run, output, timeout, cancel, abandon."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from levante.db import manage
from levante.db.connect import make_engine
from levante.platform.core import executions as ex
from levante.platform.core import store
from levante.platform.core.pack_registry import register_packs
from levante.platform.core.runner_service import RunnerService, abandon_dead_claims
from tests.integration.platform.service.conftest import (
    Background,
    Db,
    Served,
    make_config,
    wait_status,
)


def test_noop_and_shell_run_to_their_end(served: Served) -> None:
    with served.client() as client:
        noop = client.post("/executions", json={"action": "core.noop"}).json()
        done = wait_status(client, noop["id"], ex.DONE)
        assert done["status"] == "succeeded"
        assert [e["status"] for e in done["log"]] == ["requested", "running", "succeeded"]
        shell = client.post("/executions", json={
            "action": "core.local", "parameters": {"cmd": "echo one; echo two >&2; exit 4"},
        }).json()
        failed = wait_status(client, shell["id"], ex.DONE)
        assert failed["status"] == "failed"
        assert failed["result"]["return_code"] == 4
        assert failed["result"]["stdout"] == "one"
        output = client.get(f"/executions/{shell['id']}/output")
        assert output.text == "one\ntwo\n"
        only_err = client.get(f"/executions/{shell['id']}/output?output_type=stderr")
        assert only_err.text == "two\n"


def test_output_can_be_followed_while_running(served: Served) -> None:
    with served.client() as client:
        shell = client.post("/executions", json={
            "action": "core.local", "parameters": {"cmd": "echo first; sleep 1; echo last"},
        }).json()
        deadline = time.monotonic() + 5
        lines: list[dict[str, object]] = []
        while not lines and time.monotonic() < deadline:
            lines = client.get(f"/executions/{shell['id']}/output",
                               params={"format": "json"}).json()["lines"]
            time.sleep(0.02)
        assert lines and lines[0]["data"] == "first\n"
        assert client.get(f"/executions/{shell['id']}").json()["status"] == "running"
        wait_status(client, shell["id"], ex.DONE)
        rest = client.get(f"/executions/{shell['id']}/output",
                          params={"format": "json", "after": 0}).json()
        assert [line["data"] for line in rest["lines"]] == ["last\n"]
        assert rest["done"] is True


def test_timeout_kills_the_action(served: Served) -> None:
    with served.client() as client:
        started = time.monotonic()
        shell = client.post("/executions", json={
            "action": "core.local", "parameters": {"cmd": "sleep 20", "timeout": 1},
        }).json()
        done = wait_status(client, shell["id"], ex.DONE, timeout=15)
        assert done["status"] == "timeout"
        assert time.monotonic() - started < 8


def test_cancel_kills_a_running_action(served: Served) -> None:
    with served.client() as client:
        shell = client.post("/executions", json={
            "action": "core.local", "parameters": {"cmd": "echo started; sleep 30"},
        }).json()
        wait_status(client, shell["id"], {"running"})
        time.sleep(0.2)
        answer = client.delete(f"/executions/{shell['id']}")
        assert answer.status_code == 200
        assert answer.json()["status"] in ("canceling", "canceled")
        done = wait_status(client, shell["id"], ex.DONE, timeout=5)
        assert done["status"] == "canceled"
        assert [e["status"] for e in done["log"]][-2:] == ["canceling", "canceled"]
        again = client.delete(f"/executions/{shell['id']}").json()
        assert again == {"faultstring": 'Action is already in "canceled" state.'}


def test_execution_of_a_dead_runner_is_abandoned(platform_db: Db) -> None:
    db = platform_db.engine
    row = ex.create_execution(db, "core.noop", {}, "a")
    claimed = store.claim_requested(db, "gone-process", 1, 60)
    assert claimed[0]["id"] == row["id"]
    assert abandon_dead_claims(db) == [row["id"]]
    after = ex.get_execution(db, row["id"])
    assert after["status"] == "abandoned"
    assert "gone-process is not registered" in after["result"]["error"]
    assert after["end_timestamp"] is not None


def test_execution_of_a_silent_runner_is_abandoned_only_after_its_lease(
    platform_db: Db,
) -> None:
    db = platform_db.engine
    store.register_process(db, "quiet", "runner")
    row = ex.create_execution(db, "core.noop", {}, "a")
    store.claim_requested(db, "quiet", 1, 60)
    assert abandon_dead_claims(db) == []  # alive: same host, our own pid
    store.deregister_process(db, "quiet")
    assert abandon_dead_claims(db) == [row["id"]]
    assert store.now() - timedelta(seconds=5) < store.aware(
        ex.get_execution(db, row["id"])["end_timestamp"]
    )  # type: ignore[operator]


@contextlib.contextmanager
def _rarely_polling_runner(postgres_url: str,
                           tmp_path: Path) -> Iterator[tuple[Engine, RunnerService]]:
    """PostgreSQL: a runner that polls every 30 s, listening and idle; with its engine."""
    manage.upgrade(postgres_url, "head")
    config = make_config(tmp_path, postgres_url, extra={("runner", "poll_interval"): 30.0})
    engine = make_engine(postgres_url)
    register_packs(engine, config.get_list("content", "packs_paths"))
    runner = RunnerService(config, engine)
    background = Background([runner])
    background.start()
    try:
        deadline = time.monotonic() + 10
        while runner._loop is None or runner._backlog:  # listening and idle
            assert time.monotonic() < deadline
            time.sleep(0.02)
        yield engine, runner
    finally:
        background.stop()
        engine.dispose()


def _succeeds_at_once(engine: Engine, execution_id: str, started: float) -> None:
    """The execution succeeds within 5 s of ``started`` (when it was asked for)."""
    while ex.get_execution(engine, execution_id)["status"] != "succeeded":
        assert time.monotonic() - started < 5, "the runner was not woken"
        time.sleep(0.01)


def test_runner_in_another_process_is_woken_by_notify(postgres_url: str,
                                                      tmp_path: Path) -> None:
    """PostgreSQL: a runner that polls rarely still starts work at once (LISTEN/NOTIFY)."""
    with _rarely_polling_runner(postgres_url, tmp_path) as (engine, runner):
        ex.remove_listener(engine, runner._listener)  # as if the API ran in another process
        ex.remove_taker(engine, runner)
        started = time.monotonic()
        row = ex.create_execution(engine, "core.noop", {}, "a")
        _succeeds_at_once(engine, row["id"], started)


def test_runner_is_woken_by_notify_of_another_engine_of_its_process(
        postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL: an execution stored through another engine of the same process rings
    no bell of the runner's engine, and its NOTIFY (tagged with that other engine) is
    heard: the runner starts it at once, not at its next poll."""
    other = make_engine(postgres_url)
    try:
        with _rarely_polling_runner(postgres_url, tmp_path) as (engine, _runner):
            assert store.origin_token(other) != store.origin_token(engine)
            started = time.monotonic()
            row = ex.create_execution(other, "core.noop", {}, "a")
            assert row["status"] == "requested"  # not handed to the other engine's runner
            _succeeds_at_once(engine, row["id"], started)
    finally:
        other.dispose()
