"""The results tracker with the notifier off, against a stub engine API on loopback:
batched polls, ends applied, errors never drop an entry, the silence safety net."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from levante.db.connect import make_engine
from levante.platform.core.models import executions
from levante.platform.core.runner_service import abandon_dead_claims
from levante.platform.workflows import store as ts
from levante.platform.workflows.launch import track_launched
from levante.platform.workflows.tables import tracked_executions, workflow_links
from levante.platform.workflows.tracker import (
    LAUNCH_GRACE,
    ResultsTracker,
    add_silent,
    add_tracking,
)
from tests.conftest import free_port
from tests.integration.handshake.support import (
    Background,
    ServedApp,
    config_for,
    platform_execution,
    platform_row,
    wait_for,
)


class StubEngine:
    """Just enough of the Mistral v2 listing API: `id=in:` and `workflow_execution_id=in:`."""

    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []

    async def executions(self, request: Request) -> JSONResponse:
        params = dict(request.query_params)
        self.requests.append(("executions", params))
        ids = params.get("id", "in:")[3:].split(",")
        found = [{"id": i, **self.states[i]} for i in ids if i in self.states]
        return JSONResponse({"executions": found})

    async def tasks(self, request: Request) -> JSONResponse:
        params = dict(request.query_params)
        self.requests.append(("tasks", params))
        ids = params.get("workflow_execution_id", "in:")[3:].split(",")
        return JSONResponse({"tasks": [
            {"id": f"t-{i}", "name": "only", "workflow_execution_id": i, "state": "SUCCESS",
             "result": json.dumps({"n": 1}), "published": "{}"} for i in ids
        ]})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v2/executions", self.executions),
                                 Route("/v2/tasks", self.tasks)])


@pytest.fixture
def stub() -> Iterator[tuple[StubEngine, ServedApp]]:
    engine = StubEngine()
    served = ServedApp(engine.app(), free_port()).start()
    try:
        yield engine, served
    finally:
        served.stop()


def _entries(db: Engine) -> dict[str, dict[str, Any]]:
    with db.connect() as conn:
        return {r.execution_id: dict(r._mapping)
                for r in conn.execute(select(tracked_executions))}


def test_one_batched_poll_finishes_ended_executions(
    migrated_url: str, tmp_path: Path, stub: tuple[StubEngine, ServedApp]
) -> None:
    engine, served = stub
    db = make_engine(migrated_url)
    config = config_for(tmp_path, migrated_url, resultstracker={"batch_size": 50})
    ids = {}
    for wf, state in (("wf-a", "SUCCESS"), ("wf-b", "RUNNING"), ("wf-c", "ERROR")):
        ids[wf] = platform_execution(db, wf)
        add_tracking(db, ids[wf])
        engine.states[wf] = {"state": state, "state_info": "boom" if state == "ERROR" else None,
                             "output": json.dumps({"answer": wf})}
    tracker = ResultsTracker(config, db, engine_url=served.url)

    async def once() -> None:
        import httpx

        async with httpx.AsyncClient(base_url=served.url) as client:
            tracker.client = client
            assert await tracker.poll_once() == 3

    asyncio.run(once())
    polls = [p for kind, p in engine.requests if kind == "executions"]
    # One request for all three, then one for the output of the two that ended.
    assert len(polls) == 2 and sorted(polls[0]["id"][3:].split(",")) == ["wf-a", "wf-b", "wf-c"]
    assert polls[0]["fields"] == "id,state"
    assert sorted(polls[1]["id"][3:].split(",")) == ["wf-a", "wf-c"]
    a = platform_row(db, ids["wf-a"])
    assert a["status"] == "succeeded" and a["result"]["answer"] == "wf-a"
    assert a["result"]["tasks"][0]["result"] == {"n": 1}
    assert a["result"]["extra"]["state"] == "SUCCESS"
    c = platform_row(db, ids["wf-c"])
    assert c["status"] == "failed" and c["result"]["extra"]["state_info"] == "boom"
    assert platform_row(db, ids["wf-b"])["status"] == "running"
    assert list(_entries(db)) == [ids["wf-b"]]
    db.dispose()


def test_errors_never_drop_entries(migrated_url: str, tmp_path: Path) -> None:
    db = make_engine(migrated_url)
    config = config_for(tmp_path, migrated_url)
    ex_id = platform_execution(db, "wf-x")
    add_tracking(db, ex_id)
    tracker = ResultsTracker(config, db, engine_url=f"http://127.0.0.1:{free_port()}")

    async def once() -> None:
        import httpx

        async with httpx.AsyncClient(base_url=tracker.engine_url) as client:
            tracker.client = client
            await tracker.poll_once()

    asyncio.run(once())
    asyncio.run(once())
    entry = _entries(db)[ex_id]
    assert entry["errors"] == 2 and "Connect" in entry["last_error"]
    assert platform_row(db, ex_id)["status"] == "running"
    db.dispose()


def test_the_running_tracker_notices_an_end(
    migrated_url: str, tmp_path: Path, stub: tuple[StubEngine, ServedApp]
) -> None:
    engine, served = stub
    db = make_engine(migrated_url)
    config = config_for(tmp_path, migrated_url, resultstracker={
        "query_interval": 0.3, "empty_q_sleep_time": 0.05})
    ex_id = platform_execution(db, "wf-r")
    engine.states["wf-r"] = {"state": "RUNNING", "output": "{}"}
    add_tracking(db, ex_id)
    service = Background(ResultsTracker(config, db, engine_url=served.url)).start()
    try:
        wait_for(lambda: len(engine.requests) >= 2, 3.0)
        engine.states["wf-r"] = {"state": "SUCCESS", "output": json.dumps({"v": 2})}
        # How fast is measured in bench/handshake_bench.py; here: it happens by itself.
        wait_for(lambda: platform_row(db, ex_id)["status"] == "succeeded", 5.0)
    finally:
        service.stop()
    assert _entries(db) == {}
    db.dispose()


def test_silence_safety_net(migrated_url: str) -> None:
    db = make_engine(migrated_url)
    quiet = platform_execution(db, "wf-quiet")
    chatty = platform_execution(db, "wf-chatty")
    platform_execution(db, None)  # not launched on the engine: nothing to poll
    platform_execution(db, "wf-shell", runner_type="local-shell-cmd")
    old = ts.now() - timedelta(seconds=120)
    with db.begin() as conn:
        for ex_id, wf in ((quiet, "wf-quiet"), (chatty, "wf-chatty")):
            ts.insert_link(conn, ex_id, wf)
        conn.execute(update(workflow_links).where(workflow_links.c.execution_id == quiet)
                     .values(last_event_at=old, created_at=old))
        conn.execute(update(workflow_links).where(workflow_links.c.execution_id == chatty)
                     .values(last_event_at=ts.now()))
    assert add_silent(db, 60.0) == [quiet]
    assert add_silent(db, 60.0) == []  # already tracked
    assert _entries(db)[quiet]["reason"] == "silence"
    db.dispose()


def test_prune_drops_entries_of_executions_ended_otherwise(migrated_url: str) -> None:
    from levante.platform.core.models import executions
    from levante.platform.workflows.tracker import prune

    db = make_engine(migrated_url)
    ended = platform_execution(db, "wf-e")
    running = platform_execution(db, "wf-r2")
    add_tracking(db, ended)
    add_tracking(db, running)
    with db.begin() as conn:  # canceled on the platform while tracked
        conn.execute(update(executions).where(executions.c.id == ended)
                     .values(status="canceled"))
    assert prune(db) == 1
    assert list(_entries(db)) == [running]
    db.dispose()


def test_at_most_thread_pool_size_requests_in_flight(migrated_url: str, tmp_path: Path) -> None:
    import httpx

    in_flight = 0
    most = 0
    requests = 0

    async def slow(request: Request) -> JSONResponse:
        nonlocal in_flight, most, requests
        requests += 1
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        ids = request.query_params["id"][3:].split(",")
        return JSONResponse({"executions": [{"id": i, "state": "RUNNING"} for i in ids]})

    served = ServedApp(Starlette(routes=[Route("/v2/executions", slow)]), free_port()).start()
    db = make_engine(migrated_url)
    config = config_for(tmp_path, migrated_url, resultstracker={
        "thread_pool_size": 2, "batch_size": 2, "no_workers_sleep_time": 0.01})
    for n in range(9):
        add_tracking(db, platform_execution(db, f"wf-{n}"))
    tracker = ResultsTracker(config, db, engine_url=served.url)

    async def once() -> None:
        async with httpx.AsyncClient(base_url=served.url) as client:
            tracker.client = client
            assert await tracker.poll_once() == 9

    try:
        asyncio.run(once())
    finally:
        served.stop()
    assert requests == 5  # 9 entries, 2 per request
    assert most == 2
    assert len(_entries(db)) == 9
    db.dispose()


def _launching(db: Engine, wf_id: str) -> str:
    """A workflow execution as its runner leaves it mid-launch: engine id recorded,
    still claimed, by a runner process that is gone."""
    ex_id = platform_execution(db, wf_id)
    with db.begin() as conn:
        conn.execute(update(executions).where(executions.c.id == ex_id)
                     .values(claimed_by="gone-runner"))
    return ex_id


def test_a_runner_dying_during_a_launch_puts_the_execution_back_in_the_queue(
    migrated_url: str,
) -> None:
    """Launching is idempotent (the engine's id is derived from the platform's): the
    execution is not abandoned nor left to a workflow that may never have started, but
    launched again by another runner."""
    db = make_engine(migrated_url)
    ex_id = _launching(db, "wf-relaunched")
    assert abandon_dead_claims(db) == []
    row = platform_row(db, ex_id)
    assert row["status"] == "requested" and row["claimed_by"] is None
    assert row["log"][-1]["status"] == "requested"
    assert ex_id not in _entries(db)
    db.dispose()


def test_a_launch_that_never_reached_the_engine_ends_abandoned_after_a_grace(
    migrated_url: str, tmp_path: Path, stub: tuple[StubEngine, ServedApp]
) -> None:
    _engine, served = stub
    db = make_engine(migrated_url)
    ex_id = _launching(db, "wf-never")
    # Tracked first by the silence safety net (a waiting launch sends no events), then
    # handed over by a launch that gave up while its start request may have reached the
    # engine: the launch's reason counts.
    with ts.writing(db) as conn:
        ts.add_entry(conn, ex_id, "wf-never", "silence")
    track_launched(db, ex_id, "wf-never", ts.LAUNCH_REASON)
    assert _entries(db)[ex_id]["reason"] == ts.LAUNCH_REASON
    tracker = ResultsTracker(config_for(tmp_path, migrated_url), db, engine_url=served.url)

    async def once() -> None:
        import httpx

        async with httpx.AsyncClient(base_url=served.url) as client:
            tracker.client = client
            await tracker.poll_once()

    asyncio.run(once())  # within the grace: an error noted, still running
    assert platform_row(db, ex_id)["status"] == "running"
    assert _entries(db)[ex_id]["errors"] == 1
    with db.begin() as conn:  # the grace has passed
        conn.execute(update(tracked_executions)
                     .where(tracked_executions.c.execution_id == ex_id)
                     .values(created_at=ts.now() - timedelta(seconds=LAUNCH_GRACE + 1)))
    asyncio.run(once())
    row = platform_row(db, ex_id)
    assert row["status"] == "abandoned"
    assert "launch of workflow execution wf-never was interrupted" in row["result"]["error"]
    assert row["end_timestamp"] is not None
    assert ex_id not in _entries(db)
    db.dispose()


def test_a_link_made_twice_at_once_is_one_link(migrated_url: str) -> None:
    """An event and the results tracker may both link an execution at once (the chaos
    run met it: a duplicate key answered 500): the second finds the first's link."""
    db = make_engine(migrated_url)
    ex_id = platform_execution(db, "wf-linked")
    with db.begin() as conn:
        first = ts.insert_link(conn, ex_id, "wf-linked")
    with db.begin() as conn:
        second = ts.insert_link(conn, ex_id, "wf-linked")
    assert second["execution_id"] == first["execution_id"] == ex_id
    assert second["workflow_execution_id"] == "wf-linked"
    with db.connect() as conn:
        assert len(conn.execute(select(workflow_links)
                                .where(workflow_links.c.execution_id == ex_id)).all()) == 1
    db.dispose()
