"""Retries that start nothing twice: a launch that meets an engine answering 503 or
hanging, or a database that dropped its connection, and the platform's `POST
/v1/executions` with a client-chosen id (how the engine creates the child of a task once,
whatever the number of its requests)."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from levante.db.connect import is_sqlite, make_engine, normalize_url
from levante.engine.actions.base import ActionContext
from levante.engine.platform_actions import PlatformAction, child_id, job_input
from levante.platform.runners.base import RunRequest
from levante.platform.workflows import launch as workflow_launch
from levante.platform.workflows import store as ts
from tests.conftest import free_port, postgres_server_url
from tests.integration.handshake.support import ServedApp, platform_execution, platform_row
from tests.integration.handshake_launch.conftest import Loopback
from tests.integration.handshake_launch.test_workflow_launch import _action, _claimed_execution


class FlakyEngine:
    """In front of the real engine (or of nothing): answers `POST /v2/executions` as
    `starts` says ("lost": passed on, the answer replaced by a 503; "hang": no answer in
    time), `GET /v2/executions/<id>` with a 503 when `gets_fail`, the rest passed on."""

    def __init__(self, engine_url: str | None, starts: str, gets_fail: bool = False) -> None:
        self.engine_url = engine_url
        self.starts = starts
        self.gets_fail = gets_fail
        self.start_requests = 0
        self.lock = threading.Lock()
        self.served = ServedApp(Starlette(routes=[
            Route("/{path:path}", self.handle, methods=["GET", "POST", "PUT"]),
        ]), free_port()).start()

    async def _forward(self, request: Request) -> Response:
        if self.engine_url is None:
            return JSONResponse({"name": "registered"}, status_code=200)
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.request(
                request.method, f"{self.engine_url}{request.url.path}",
                content=await request.body(),
                headers={k: v for k, v in request.headers.items()
                         if k.lower() in ("content-type", "st2-api-key", "x-auth-token",
                                          "x-levante-user")})
        return Response(answer.content, answer.status_code,
                        media_type=answer.headers.get("content-type"))

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        if request.method == "POST" and path == "/v2/executions":
            with self.lock:
                self.start_requests += 1
            if self.starts == "hang":
                await asyncio.sleep(3)
                return JSONResponse({"faultstring": "too late"}, status_code=504)
            await self._forward(request)
            return JSONResponse({"faultstring": "Service Unavailable"}, status_code=503)
        if request.method == "GET" and path.startswith("/v2/executions/") and self.gets_fail:
            return JSONResponse({"faultstring": "Service Unavailable"}, status_code=503)
        return await self._forward(request)

    def stop(self) -> None:
        self.served.stop()


def _short_retries(loopback: Loopback, url: str) -> None:
    loopback.launcher = workflow_launch.Launcher(dataclasses.replace(
        loopback.launcher.settings, engine_url=url, retry_seconds=3.0, request_timeout=0.4,
        max_backoff=0.2))


def _entry(loopback: Loopback, execution_id: str) -> dict[str, Any] | None:
    with loopback.db.connect() as conn:
        return ts.entry(conn, execution_id)


def test_a_start_whose_answers_are_lost_is_retried_then_tracked(
    loopback: Loopback, tmp_path: Path
) -> None:
    loopback.start_engine()
    flaky = FlakyEngine(loopback.engine_url, "lost")
    try:
        _short_retries(loopback, flaky.served.url)
        ex_id = _claimed_execution(loopback)
        outcome = asyncio.run(loopback.launcher.launch(
            RunRequest(ex_id, _action(tmp_path), {"who": "Ada"})))
    finally:
        flaky.stop()
    wf_id = workflow_launch.engine_execution_id(ex_id)
    # Every start request reached the engine; each answer was lost (a 503 instead).
    assert flaky.start_requests >= 3
    # The engine knows the workflow: the execution is handed to the results tracker, not
    # failed, and the workflow was started once (a known id answers what exists).
    assert outcome.status == "running", outcome.result
    assert outcome.result["workflow_execution_id"] == wf_id
    entry = _entry(loopback, ex_id)
    assert entry is not None and entry["workflow_execution_id"] == wf_id
    assert entry["reason"] == workflow_launch.TRACK_REASON
    row = platform_row(loopback.db, ex_id)
    assert row["claimed_by"] is None and row["lease_until"] is None
    listed = httpx.get(f"{loopback.engine_url}/v2/executions",
                       params={"workflow_name": "launch_test.chain"},
                       headers=loopback.engine_headers, timeout=5).json()
    assert [e["id"] for e in listed["executions"]] == [wf_id]


def test_a_start_that_may_have_reached_an_engine_that_cannot_be_asked_is_tracked(
    loopback: Loopback, tmp_path: Path
) -> None:
    flaky = FlakyEngine(None, "hang", gets_fail=True)
    try:
        _short_retries(loopback, flaky.served.url)
        ex_id = _claimed_execution(loopback)
        outcome = asyncio.run(loopback.launcher.launch(
            RunRequest(ex_id, _action(tmp_path), {"who": "Ada"})))
    finally:
        flaky.stop()
    assert flaky.start_requests >= 2
    # Whether the engine started it cannot be known now: the results tracker finds out
    # (and ends it `abandoned` if the engine, once it answers, does not know it).
    assert outcome.status == "running", outcome.result
    entry = _entry(loopback, ex_id)
    assert entry is not None and entry["reason"] == ts.LAUNCH_REASON


def _terminate(pid: int) -> None:
    """End one PostgreSQL session, as a server restart or an administrator does."""
    server = postgres_server_url()
    assert server
    admin = create_engine(normalize_url(server), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
            for _ in range(100):
                if not conn.execute(text("SELECT count(*) FROM pg_stat_activity "
                                         "WHERE pid = :pid"), {"pid": pid}).scalar():
                    return
                time.sleep(0.05)
        raise AssertionError(f"session {pid} did not end")
    finally:
        admin.dispose()


def test_a_launch_waits_out_a_connection_the_database_dropped(
    loopback: Loopback, tmp_path: Path, database_url: str
) -> None:
    if is_sqlite(database_url):
        pytest.skip("a server that ends sessions is PostgreSQL's (SQLite has no server)")
    loopback.start_engine()
    ex_id = _claimed_execution(loopback)
    # The launcher's own pool holds one connection, whose session the server then ends:
    # the launch's first statement (reading the execution's context) meets the drop.
    own = make_engine(database_url)
    try:
        with own.connect() as conn:
            pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        _terminate(pid)
        launcher = workflow_launch.Launcher.from_config(loopback.config, own)
        outcome = asyncio.run(launcher.launch(
            RunRequest(ex_id, _action(tmp_path), {"who": "Ada"})))
    finally:
        own.dispose()
    assert outcome.status == "running", outcome.result
    assert outcome.result["workflow_execution_id"] == workflow_launch.engine_execution_id(
        ex_id)


def test_a_client_chosen_id_creates_one_execution_whatever_the_repeats(
    loopback: Loopback
) -> None:
    loopback.start_platform()
    url = f"{loopback.api_url}/v1/executions"
    headers = {"St2-Api-Key": loopback.key}
    wanted = "0123456789abcdef01234567"
    body = {"id": wanted, "action": "core.noop", "parameters": {}}

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30, headers=headers) as client:
            return await asyncio.gather(*(client.post(url, json=body) for _ in range(8)))

    answers = asyncio.run(burst())
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201], [
        a.text for a in answers]
    assert {a.json()["id"] for a in answers} == {wanted}
    listed = httpx.get(url, params={"action": "core.noop"}, headers=headers, timeout=5)
    assert [e["id"] for e in listed.json()] == [wanted]
    # Later repeats too; another action under that id is a conflict; ids as the
    # platform's own only.
    again = httpx.post(url, json=body, headers=headers, timeout=5)
    assert again.status_code == 200 and again.json()["id"] == wanted
    other = httpx.post(url, json={**body, "action": "core.local", "parameters": {"cmd": "x"}},
                       headers=headers, timeout=5)
    assert other.status_code == 409 and "core.noop" in other.json()["faultstring"]
    for bad in ("../x", "0123456789ABCDEF01234567", 42):
        answer = httpx.post(url, json={**body, "id": bad}, headers=headers, timeout=5)
        assert answer.status_code == 400 and "'id'" in answer.json()["faultstring"], bad


def test_a_task_asking_twice_for_its_child_gets_the_same_one(loopback: Loopback) -> None:
    loopback.start_platform()
    parent = platform_execution(loopback.db, "wf-1")
    workflow = {"id": "wf-1", "workflow_name": "wb.wf", "root_execution_id": "wf-1",
                "params": {"env": {"levante": {"execution_id": parent,
                                               "api_url": loopback.api_url,
                                               "credential": loopback.key}}}}
    given = job_input(PlatformAction("core.noop"), {}, workflow, {"id": "task-1", "name": "t"})
    ctx = ActionContext(workflow_execution_id="wf-1", task_execution_id="task-1",
                        action_execution_id="action-7", config=loopback.config)
    first = asyncio.run(PlatformAction("core.noop").run(given, ctx))
    second = asyncio.run(PlatformAction("core.noop").run(given, ctx))
    assert first["platform_execution_id"] == second["platform_execution_id"] == child_id(
        "action-7")
    listed = httpx.get(f"{loopback.api_url}/v1/executions", params={"parent": parent},
                       headers={"St2-Api-Key": loopback.key}, timeout=5).json()
    assert [e["id"] for e in listed] == [child_id("action-7")]
