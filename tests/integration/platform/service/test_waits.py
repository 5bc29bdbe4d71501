"""core.pause holds no worker: its wait is a timer in the database, ended on time by any
runner process, cancelable at once, and kept across a restart."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from levante.platform.api.app import create_app
from levante.platform.core import executions as ex
from levante.platform.core import store
from levante.platform.core.runner_service import RunnerService
from levante.platform.core.waits import WaitTimers
from levante.platform.service import ensure_api_key
from levante.service import HttpService
from tests.conftest import free_port
from tests.integration.platform.service.conftest import (
    Background,
    Db,
    Served,
    wait_http,
    wait_status,
)


def _serve(db: Db, port: int) -> tuple[Background, Served]:
    config = db.config.with_overrides({("api", "port"): port, ("runner", "workers"): 2})
    key, _ = ensure_api_key(config, db.engine)
    timers = WaitTimers(db.engine)
    runner = RunnerService(config, db.engine, timers=timers)
    api = HttpService("api", create_app(config, db.engine), "127.0.0.1", port)
    background = Background([api, runner, timers])
    background.start()
    url = f"http://127.0.0.1:{port}"
    wait_http(url)
    return background, Served(url + "/v1", key, db.engine, config, runner)


@pytest.fixture
def waiting(platform_db: Db) -> Iterator[Served]:
    background, served = _serve(platform_db, free_port())
    try:
        yield served
    finally:
        background.stop()


def test_pauses_hold_no_worker_and_end_as_the_shell_would(waiting: Served) -> None:
    with waiting.client() as client:
        pauses = [client.post("/executions", json={
            "action": "core.pause", "parameters": {"max_pause": 3}}).json()["id"]
            for _ in range(20)]
        # Two workers, twenty pauses: a quick action is not queued behind them.
        quick = client.post("/executions", json={
            "action": "core.local", "parameters": {"cmd": "echo quick"}}).json()
        assert wait_status(client, quick["id"], ex.DONE)["status"] == "succeeded"
        statuses = [client.get(f"/executions/{p}").json()["status"] for p in pauses]
        assert statuses.count("running") >= 15, statuses
        held = store.get_execution(waiting.engine, pauses[0])
        assert held is not None and held["claimed_by"] == store.TIMER_CLAIM
        for pause in pauses:
            done = wait_status(client, pause, ex.DONE, timeout=30)
            assert done["status"] == "succeeded"
            assert done["result"] == {"stdout": "", "stderr": "", "return_code": 0,
                                      "succeeded": True, "failed": False}
            assert [e["status"] for e in done["log"]] == ["requested", "running",
                                                          "succeeded"]


def test_a_pause_longer_than_its_timeout_times_out_and_a_cancel_ends_it_at_once(
        waiting: Served) -> None:
    with waiting.client() as client:
        short = client.post("/executions", json={
            "action": "core.pause", "parameters": {"max_pause": 60, "timeout": 1}}).json()
        long = client.post("/executions", json={
            "action": "core.pause", "parameters": {"max_pause": 600}}).json()
        wait_status(client, long["id"], {"running"})
        assert client.delete(f"/executions/{long['id']}").status_code == 200
        canceled = wait_status(client, long["id"], ex.DONE, timeout=5)
        assert canceled["status"] == "canceled"
        timed_out = wait_status(client, short["id"], ex.DONE, timeout=20)
        assert timed_out["status"] == "timeout"
        assert timed_out["result"]["error"] == "Action failed to complete in 1 seconds"
        # A parameter that is not a whole number: the script runs and says why.
        bad = client.post("/executions", json={
            "action": "core.pause", "parameters": {"max_pause": -1}}).json()
        assert wait_status(client, bad["id"], ex.DONE)["status"] == "failed"


def test_a_wait_outlives_its_runner(platform_db: Db) -> None:
    background, served = _serve(platform_db, free_port())
    try:
        with served.client() as client:
            pause = client.post("/executions", json={
                "action": "core.pause", "parameters": {"max_pause": 2}}).json()
            wait_status(client, pause["id"], {"running"})
            row = store.get_execution(served.engine, pause["id"])
            assert row is not None and row["claimed_by"] == store.TIMER_CLAIM
    finally:
        background.stop()
    # A new runner process (a restart) ends it: the wait was in the database.
    background, served = _serve(platform_db, free_port())
    try:
        with served.client() as client:
            assert wait_status(client, pause["id"], ex.DONE,
                               timeout=20)["status"] == "succeeded"
    finally:
        background.stop()
