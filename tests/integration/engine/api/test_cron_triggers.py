"""Cron triggers fire each due firing exactly once, even with racing processes."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from levante.db.connect import make_engine
from levante.engine.core import cron
from levante.engine.core.runtime import EngineRuntime
from levante.engine.store import definitions as store

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("levante.engine.core.runtime") is None,
    reason="levante.engine.core.runtime is not built yet",
)

WORKFLOW = "version: '2.0'\ntick:\n  tasks:\n    a:\n      action: std.noop\n"


@pytest.fixture
def db(migrated_url: str) -> Iterator[Engine]:
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


def _executions(db: Engine) -> int:
    from levante.engine.models import workflow_executions

    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(workflow_executions))
                   .scalar_one())


def test_each_firing_starts_once(db: Engine) -> None:
    t0 = store.utcnow().replace(second=0, microsecond=0)
    with db.begin() as conn:
        store.create_workflows(conn, WORKFLOW)
        trigger = store.create_cron_trigger(conn, "every-minute", "tick",
                                            pattern="* * * * *", count=2, now=t0)
    first_due = trigger["next_execution_time"]
    assert first_due == t0 + timedelta(minutes=1)
    assert cron.fire_due(EngineRuntime(db), now=t0) == 0

    claimed: list[int] = []
    racers = [threading.Thread(target=lambda: claimed.append(
        cron.fire_due(EngineRuntime(db), now=first_due + timedelta(seconds=1)))) for _ in range(3)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert sum(claimed) == 1
    assert _executions(db) == 1
    with db.connect() as conn:
        after = store.get_cron_trigger(conn, "every-minute")
    assert after["remaining_executions"] == 1
    assert after["next_execution_time"] == first_due + timedelta(minutes=1)

    assert cron.fire_due(EngineRuntime(db), now=first_due + timedelta(minutes=1, seconds=1)) == 1
    assert _executions(db) == 2
    with db.connect() as conn, pytest.raises(store.NotFound):
        store.get_cron_trigger(conn, "every-minute")


def test_a_firing_started_before_a_crash_is_not_started_again(db: Engine) -> None:
    t0 = store.utcnow().replace(second=0, microsecond=0)
    with db.begin() as conn:
        store.create_workflows(conn, WORKFLOW)
        trigger = store.create_cron_trigger(conn, "once", "tick",
                                            first_time=t0 + timedelta(minutes=5), now=t0)
    due = trigger["next_execution_time"]
    # The process started the workflow, then died before moving the trigger on.
    cron._start(EngineRuntime(db), trigger, cron.firing_execution_id(trigger["id"], due))
    assert _executions(db) == 1
    assert cron.fire_due(EngineRuntime(db), now=due + timedelta(seconds=2)) == 1
    assert _executions(db) == 1
    with db.connect() as conn:
        assert store.due_cron_trigger_ids(conn, due + timedelta(days=1)) == []


def test_bad_triggers_are_refused(db: Engine) -> None:
    now = store.utcnow()
    with db.begin() as conn:
        store.create_workflows(conn, WORKFLOW)
        for kwargs in ({"pattern": "61 * * * *"}, {}, {"first_time": "yesterday"},
                       {"first_time": (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")},
                       {"pattern": "* * * * *", "count": 0},
                       {"pattern": "* * * * *", "workflow_input": [1]}):
            with pytest.raises(store.InvalidRequest):
                store.create_cron_trigger(conn, "bad", "tick", now=now, **kwargs)
