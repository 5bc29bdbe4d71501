"""Hand-over of reports to the engine (levante.platform.workflows.reports `_hand_over`,
`EngineReporter.take`): with a reporter of this process running on the database, the end
of a task's action is written already leased to it and sent once the transaction commits,
without a claim; a report behind an earlier pending one for the same engine object is not
handed over but waits its turn; with no reporter it is written due now and claimed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from levante.config import Config
from levante.contract.tables import outbox as engine_reports
from levante.db.connect import make_engine, writing
from levante.platform.core.models import executions
from levante.platform.workflows import reports as reporting
from levante.platform.workflows.reports import EngineReporter
from tests.conftest import free_port
from tests.integration.handshake.support import (
    Background,
    ServedApp,
    config_for,
    platform_execution,
    wait_for,
)


@dataclass
class FakeEngine:
    """The engine's PUT /v2/action_executions/<id>: records each request in order and
    answers 200, once `gate` is open."""

    gate: threading.Event = field(default_factory=threading.Event)
    puts: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)
    arrived: list[str] = field(default_factory=list)  # ids, as they come (before the gate)

    async def put(self, request: Request) -> JSONResponse:
        action_id = request.path_params["id"]
        body = await request.json()
        self.arrived.append(action_id)
        await asyncio.to_thread(self.gate.wait, 20)
        self.puts.append((action_id, body, time.monotonic()))
        return JSONResponse({"id": action_id, "state": body.get("state")})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v2/action_executions/{id}", self.put,
                                       methods=["PUT"])])


@dataclass
class Setup:
    config: Config
    db: Engine
    engine: FakeEngine
    parts: list[Background] = field(default_factory=list)

    def reporter(self, **kwargs: Any) -> EngineReporter:
        options: dict[str, Any] = {"initial_backoff": 0.05, "max_backoff": 0.2,
                                   "poll_interval": 0.05}
        options.update(kwargs)
        reporter = EngineReporter(self.config, self.db, **options)
        self.parts.append(Background(reporter).start())
        # running: registered as this process's reporter of the database
        wait_for(lambda: reporting.reporter_of(self.db) is reporter, 5.0)
        return reporter


@pytest.fixture
def setup(migrated_url: str, tmp_path: Path) -> Iterator[Setup]:
    engine = FakeEngine()
    port = free_port()
    served = ServedApp(engine.app(), port).start()
    config = config_for(tmp_path, migrated_url, engine={"port": port})
    db = make_engine(migrated_url)
    found = Setup(config, db, engine)
    try:
        yield found
    finally:
        engine.gate.set()
        for part in found.parts:
            part.stop()
        served.stop()
        db.dispose()
    assert reporting.reporter_of(db) is None  # a stopped reporter takes nothing


def _child(db: Engine, action_execution_id: str) -> str:
    """A running child execution of a workflow task, as the engine creates it."""
    ex_id = platform_execution(db, None, runner_type="local-shell-cmd")
    with writing(db) as conn:
        conn.execute(update(executions).where(executions.c.id == ex_id).values(context={
            "user": "engine", "mistral": {"action_execution_id": action_execution_id,
                                          "workflow_execution_id": "wf", "task_name": "t"}}))
    return ex_id


def _finish(db: Engine, ex_id: str, status: str, result: object) -> None:
    with writing(db) as conn:
        reporting.on_status(conn, ex_id, status, result)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _lead(report: dict[str, Any]) -> float:
    """Seconds from a report's writing to when it is due (its lease when handed over)."""
    return (_aware(report["next_attempt_at"]) - _aware(report["created_at"])).total_seconds()


def _report(db: Engine, ex_id: str) -> dict[str, Any]:
    [found] = reporting.reports_of(db, ex_id)
    return found


def test_a_handed_over_report_is_sent_without_a_claim(setup: Setup) -> None:
    db = setup.db
    setup.reporter()
    child = _child(db, "act-1")
    _finish(db, child, "succeeded", {"stdout": "hi\n", "return_code": 0})
    # Sent once committed, although it was written due only in ~30 s (leased to the
    # reporter): no claim could have taken it that early.
    wait_for(lambda: setup.engine.arrived == ["act-1"], 10.0)
    report = _report(db, child)
    assert (report["state"], report["attempts"]) == ("pending", 0)
    assert reporting.LEASE_SECONDS - 5 <= _lead(report) <= reporting.LEASE_SECONDS + 1
    setup.engine.gate.set()
    wait_for(lambda: _report(db, child)["state"] == "acknowledged", 10.0)
    report = _report(db, child)
    assert (report["attempts"], report["last_status"]) == (1, 200)
    assert [(a, b) for a, b, _ in setup.engine.puts] == [
        ("act-1", {"state": "SUCCESS", "output": {"stdout": "hi\n", "return_code": 0}})]
    time.sleep(0.3)
    assert len(setup.engine.puts) == 1  # sent once


def test_a_report_behind_a_pending_one_waits_its_turn(setup: Setup) -> None:
    db = setup.db
    setup.reporter()
    first = _child(db, "act-2")
    second = _child(db, "act-2")  # a second report for the same engine action
    _finish(db, first, "succeeded", {"n": 1})
    wait_for(lambda: setup.engine.arrived == ["act-2"], 10.0)  # handed over, held there
    _finish(db, second, "failed", {"n": 2})
    early, late = _report(db, first), _report(db, second)
    assert _lead(early) >= reporting.LEASE_SECONDS - 5  # handed over: leased
    assert late["state"] == "pending"
    assert abs(_lead(late)) < 1.0  # not handed over: due at once, for a claim
    time.sleep(0.5)
    assert setup.engine.arrived == ["act-2"]  # the second waits behind the first
    assert _report(db, second)["attempts"] == 0
    setup.engine.gate.set()
    wait_for(lambda: _report(db, second)["state"] == "acknowledged", 10.0)
    assert _report(db, first)["state"] == "acknowledged"
    assert [(a, b["state"], b["output"]) for a, b, _ in setup.engine.puts] == [
        ("act-2", "SUCCESS", {"n": 1}), ("act-2", "ERROR", {"n": 2})]


def test_with_no_reporter_the_report_is_due_now_and_a_later_reporter_sends_it(
    setup: Setup
) -> None:
    db = setup.db
    setup.engine.gate.set()
    assert reporting.reporter_of(db) is None
    child = _child(db, "act-3")
    _finish(db, child, "timeout", {"error": "too slow"})
    report = _report(db, child)
    assert (report["state"], report["attempts"]) == ("pending", 0)
    assert abs(_lead(report)) < 1.0  # due at once: nobody holds it
    time.sleep(0.2)
    assert setup.engine.arrived == []
    setup.reporter()
    wait_for(lambda: _report(db, child)["state"] == "acknowledged", 10.0)
    assert [(a, b["state"]) for a, b, _ in setup.engine.puts] == [("act-3", "ERROR")]


def test_a_writer_that_is_not_writing_falls_back_to_a_claim(setup: Setup) -> None:
    """`on_status` in a transaction not opened by `writing` cannot hand over (no
    after-commit): the report is written due now and the running reporter claims it."""
    db = setup.db
    setup.engine.gate.set()
    setup.reporter()
    child = _child(db, "act-4")
    with db.begin() as conn:
        reporting.on_status(conn, child, "succeeded", {"ok": True})
        # (read before the commit: once committed, the running reporter may claim it)
        [written] = [dict(r._mapping) for r in conn.execute(
            select(engine_reports).where(engine_reports.c.execution_id == child))]
    assert abs(_lead(written)) < 1.0
    wait_for(lambda: _report(db, child)["state"] == "acknowledged", 10.0)
    assert [a for a, _, _ in setup.engine.puts] == ["act-4"]


def test_a_report_waiting_behind_a_handed_over_one_does_not_busy_loop(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = setup.db
    claims: list[float] = []
    real_claim = reporting.claim

    def counted(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        claims.append(time.monotonic())
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(reporting, "claim", counted)  # counts, then claims for real
    setup.reporter(poll_interval=5.0)
    first, second = _child(db, "act-5"), _child(db, "act-5")
    _finish(db, first, "succeeded", {"n": 1})
    wait_for(lambda: setup.engine.arrived == ["act-5"], 10.0)  # handed over, held
    _finish(db, second, "succeeded", {"n": 2})
    before = len(claims)
    time.sleep(1.0)
    during = len(claims) - before
    setup.engine.gate.set()
    wait_for(lambda: _report(db, second)["state"] == "acknowledged", 10.0)
    # Nothing can be sent meanwhile: a few looks (wake-ups, rechecks) at most, not one
    # write transaction per millisecond.
    assert during <= 50, f"{during} claims in 1 s while nothing could be sent"
