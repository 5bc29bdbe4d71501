"""Hand-off of new action jobs (levante.engine.handoff): with an engine worker of this
process running on the database, a step that starts an action writes its job already
leased to that worker and the action already started, and the worker runs it without a
claim; with no worker (or no room) the job is written free and a claim takes it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select

from levante.db.connect import make_engine
from levante.engine import handoff, states
from levante.engine.core.runtime import EngineRuntime
from levante.engine.models import action_executions, engine_jobs
from tests.integration.engine.runtime.harness import (
    ThreadWorker,
    define,
    task_states,
    wait_done,
)
from tests.integration.handshake.support import wait_for

SLEEPY = """
version: '2.0'
sleepy:
  tasks:
    nap:
      action: std.echo output=null delay=0.3
"""

FAN = """
version: '2.0'
fan:
  tasks:
    naps:
      with-items: i in <% range(0, 5) %>
      action: std.echo output=null delay=0.3
"""


@pytest.fixture
def db(migrated_url: str) -> Iterator[Engine]:
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def rt(db: Engine) -> EngineRuntime:
    return EngineRuntime(db)


@pytest.fixture
def ns() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


class Gate:
    """Holds a worker's event loop (a callback that blocks it) until opened: what is
    handed over to the worker, or what it would claim, waits meanwhile."""

    def __init__(self, worker: ThreadWorker) -> None:
        self.open_ = threading.Event()
        self.holding = threading.Event()
        loop = worker._loop
        assert loop is not None
        loop.call_soon_threadsafe(self._hold)
        assert self.holding.wait(5)

    def _hold(self) -> None:
        self.holding.set()
        self.open_.wait(30)

    def open(self) -> None:
        self.open_.set()


def _started_worker(rt: EngineRuntime, **kwargs: Any) -> ThreadWorker:
    worker = ThreadWorker(rt, poll_interval=0.2, **kwargs).start()
    wait_for(lambda: handoff.claimer_for(rt.db) is not None, 5.0)
    return worker


def _action_jobs(db: Engine, ex_id: str) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(engine_jobs).where(engine_jobs.c.kind == "action",
                                      engine_jobs.c.execution_id == ex_id)
            .order_by(engine_jobs.c.id))]


def _actions(db: Engine, ex_id: str) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(action_executions)
            .where(action_executions.c.workflow_execution_id == ex_id)
            .order_by(action_executions.c.created_at))]


def _start(rt: EngineRuntime, ns: str, name: str) -> str:
    return str(rt.start_workflow(workflow_identifier=name, namespace=ns)["id"])


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_a_started_action_is_written_leased_to_the_running_worker(
    db: Engine, rt: EngineRuntime, ns: str
) -> None:
    define(db, ns, SLEEPY)
    worker = _started_worker(rt)
    try:
        gate = Gate(worker)  # the worker can neither claim nor run anything meanwhile
        try:
            ex_id = _start(rt, ns, "sleepy")
            # Committed by the step that started the task: leased to the worker already,
            # not by a claim (which would count an attempt).
            [job] = _action_jobs(db, ex_id)
            assert job["claimed_by"] == worker.worker.process_id
            assert job["lease_until"] is not None
            assert job["attempts"] == 0
            left = (_aware(job["lease_until"]) - _aware(job["created_at"])).total_seconds()
            assert 0 < left <= worker.worker.lease + 1
            [action] = _actions(db, ex_id)
            assert action["state"] == states.RUNNING
            assert action["accepted"] is True
            rc = action["runtime_context"]
            assert rc["started"] is True
            assert rc["process_id"] == worker.worker.process_id
            assert rc["runs"] == 1
        finally:
            gate.open()
        ex = wait_done(db, ex_id, 15.0)
        assert ex["state"] == states.SUCCESS, ex["state_info"]
        assert task_states(db, ex_id) == {"nap": "SUCCESS"}
        [action] = _actions(db, ex_id)
        assert action["state"] == states.SUCCESS
        assert action["runtime_context"]["runs"] == 1  # run once: never claimed as well
        assert _action_jobs(db, ex_id) == []
    finally:
        worker.stop()
    assert handoff.claimer_for(db) is None  # a stopped worker takes nothing any more


def test_with_no_worker_the_job_is_free_and_a_later_worker_claims_it(
    db: Engine, rt: EngineRuntime, ns: str
) -> None:
    define(db, ns, SLEEPY)
    assert handoff.claimer_for(db) is None
    ex_id = _start(rt, ns, "sleepy")
    [job] = _action_jobs(db, ex_id)
    assert (job["claimed_by"], job["lease_until"], job["attempts"]) == (None, None, 0)
    [action] = _actions(db, ex_id)
    assert action["state"] == states.RUNNING
    assert not action["runtime_context"].get("started")
    assert "process_id" not in action["runtime_context"]
    worker = _started_worker(rt)
    try:
        ex = wait_done(db, ex_id, 15.0)
        assert ex["state"] == states.SUCCESS, ex["state_info"]
        [action] = _actions(db, ex_id)
        assert action["state"] == states.SUCCESS
        assert action["runtime_context"]["process_id"] == worker.worker.process_id
        assert action["runtime_context"]["runs"] == 1
    finally:
        worker.stop()


def test_a_worker_without_room_is_not_handed_more(db: Engine, rt: EngineRuntime, ns: str) -> None:
    define(db, ns, SLEEPY)
    worker = _started_worker(rt, workers=1)
    try:
        gate = Gate(worker)
        try:
            first = _start(rt, ns, "sleepy")  # handed over: the one worker is now taken
            second = _start(rt, ns, "sleepy")
            [job1] = _action_jobs(db, first)
            [job2] = _action_jobs(db, second)
            assert job1["claimed_by"] == worker.worker.process_id
            assert (job2["claimed_by"], job2["lease_until"]) == (None, None)
            assert not _actions(db, second)[0]["runtime_context"].get("started")
        finally:
            gate.open()
        for ex_id in (first, second):
            ex = wait_done(db, ex_id, 15.0)
            assert ex["state"] == states.SUCCESS, ex["state_info"]
            [action] = _actions(db, ex_id)
            assert action["runtime_context"]["runs"] == 1
            assert action["runtime_context"]["process_id"] == worker.worker.process_id
    finally:
        worker.stop()


def test_a_step_hands_over_no_more_actions_than_the_worker_has_room_for(
    db: Engine, rt: EngineRuntime, ns: str
) -> None:
    define(db, ns, FAN)
    worker = _started_worker(rt, workers=2)
    try:
        gate = Gate(worker)
        try:
            ex_id = _start(rt, ns, "fan")
            jobs = _action_jobs(db, ex_id)
            assert len(jobs) == 5
            leased = [j for j in jobs if j["claimed_by"] is not None]
            assert len(leased) <= worker.worker.workers
        finally:
            gate.open()
        ex = wait_done(db, ex_id, 20.0)
        assert ex["state"] == states.SUCCESS, ex["state_info"]
    finally:
        worker.stop()
