"""The kill test (issue 3, point 5) and several engine processes on one database (point 6)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from levante.db import manage
from levante.db.connect import make_engine
from levante.engine.core.runtime import EngineRuntime
from levante.engine.store import executions as store
from tests.conftest import drop_postgres_database, postgres_server_url
from tests.harness import migrated_database, migrated_sqlite

from .harness import define, wait_done
from .processes import EngineProcess

WORKFLOWS = """
version: '2.0'
durable:
  input: [n]
  output:
    items: <% $.items %>
    last: <% $.last %>
  tasks:
    first:
      action: std.noop
      on-success: [fan, slow]
    fan:
      with-items: i in <% range($.n) %>
      concurrency: 3
      action: std.echo output=<% $.i * 2 %> delay=0.15
      safe-rerun: true
      publish: {items: <% task().result %>}
      on-success: joined
    slow:
      action: std.echo output=slow delay=0.4
      safe-rerun: true
      wait-before: 2
      on-success: joined
    joined:
      join: all
      action: std.echo output=<% len($.items) %>
      publish: {last: <% task().result %>}
unsafe:
  tasks:
    sleepy:
      action: std.echo output=null delay=3
      on-error: cleanup
    cleanup:
      action: std.noop
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        u = f"sqlite:///{tmp_path / 'levante.sqlite'}"
        migrated_sqlite(u)
        yield u
        return
    if not postgres_server_url():
        pytest.skip("PostgreSQL tests need LEVANTE_TEST_POSTGRES_URL")
    u = migrated_database(str(postgres_server_url()))
    try:
        yield u
    finally:
        drop_postgres_database(u)


@pytest.fixture
def db(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _started(db: Engine, ex_id: str) -> bool:
    with db.connect() as conn:
        for t in store.tasks_of(conn, ex_id):
            for a in store.actions_of_task(conn, t["id"]):
                if a["runtime_context"].get("started"):
                    return True
    return False


def _task_counts(db: Engine, ex_id: str) -> Counter[str]:
    with db.connect() as conn:
        return Counter(t["name"] for t in store.tasks_of(conn, ex_id))


@pytest.mark.slow
def test_killed_engine_resumes_every_workflow(db: Engine, url: str, tmp_path: Path) -> None:
    rt = EngineRuntime(db)
    define(db, "", WORKFLOWS)
    engine = EngineProcess(url, tmp_path).start()
    try:
        ids = [
            rt.start_workflow(workflow_identifier="durable", input={"n": 6})["id"]
            for _ in range(6)
        ]
        unsafe = rt.start_workflow(workflow_identifier="unsafe")["id"]
        deadline = time.monotonic() + 10
        while not _started(db, unsafe):  # kill only once the unsafe action has begun
            assert time.monotonic() < deadline, "the engine never started the action"
            time.sleep(0.05)
        time.sleep(0.3)
        engine.kill()
        with db.connect() as conn:
            running = [i for i in ids if store.get_workflow(conn, i)["state"] == "RUNNING"]
        assert running, "the kill came too late to test anything"
        engine.start()
        for ex_id in ids:
            done = wait_done(db, ex_id, timeout=30)
            assert done["state"] == "SUCCESS", done["state_info"]
            assert done["output"] == {"items": [0, 2, 4, 6, 8, 10], "last": 6}
            assert _task_counts(db, ex_id) == {"first": 1, "fan": 1, "slow": 1, "joined": 1}
        done = wait_done(db, unsafe, timeout=30)
        assert done["state"] == "SUCCESS"
        with db.connect() as conn:
            tasks = {t["name"]: t for t in store.tasks_of(conn, unsafe)}
        assert tasks["sleepy"]["state"] == "ERROR"
        assert "safe-rerun" in tasks["sleepy"]["state_info"]
        assert tasks["cleanup"]["state"] == "SUCCESS"
        with db.connect() as conn:
            assert store.count_jobs(conn) == 0
    finally:
        engine.stop()


SHARED = """
version: '2.0'
shared:
  input: [n]
  output:
    items: <% $.items %>
    total: <% $.total %>
  tasks:
    first:
      action: std.noop
      on-success: [fan, side]
    fan:
      with-items: i in <% range($.n) %>
      concurrency: 4
      action: std.echo output=<% $.i %> delay=0.02
      publish: {items: <% task().result %>}
      on-success: joined
    side:
      action: std.echo output=1 delay=0.05
      on-success: joined
    joined:
      join: all
      action: std.echo output=<% $.items.sum() %>
      publish: {total: <% task().result %>}
"""


@pytest.mark.postgres
@pytest.mark.slow
def test_two_engine_processes_share_work(postgres_url: str, tmp_path: Path) -> None:
    manage.upgrade(postgres_url, "head")
    db = make_engine(postgres_url)
    rt = EngineRuntime(db)
    define(db, "", SHARED)
    engines = [EngineProcess(postgres_url, tmp_path, f"engine{i}").start() for i in (1, 2)]
    try:
        ids = [
            rt.start_workflow(workflow_identifier="shared", input={"n": 8})["id"]
            for _ in range(20)
        ]
        for ex_id in ids:
            done = wait_done(db, ex_id, timeout=60)
            assert done["state"] == "SUCCESS", done["state_info"]
            assert done["output"] == {"items": list(range(8)), "total": 28}
            assert _task_counts(db, ex_id) == {"first": 1, "fan": 1, "side": 1, "joined": 1}
        runners: Counter[str] = Counter()
        with db.connect() as conn:
            for ex_id in ids:
                for t in store.tasks_of(conn, ex_id):
                    actions = store.actions_of_task(conn, t["id"])
                    assert len(actions) == (8 if t["name"] == "fan" else 1)
                    for a in actions:
                        rc = a["runtime_context"]
                        if rc.get("started"):
                            assert rc["runs"] == 1
                            runners[rc["process_id"]] += 1
        assert len(runners) == 2, f"one process did all the work: {runners}"
    finally:
        for e in engines:
            e.stop()
        db.dispose()
