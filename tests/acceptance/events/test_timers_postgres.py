"""Timer slots on PostgreSQL with two rules engines (where concurrency matters): each
slot of an interval timer fires once, through a kill -9 of one engine; after both were
down, the slots missed fire as one, never a burst."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from levante.db.connect import make_engine
from levante.platform.timers.tables import timer_slots
from levante.platform.triggers.tables import trigger_instances, triggers
from tests.conftest import postgres_server_url
from tests.harness import System, start_system

pytestmark = pytest.mark.postgres

ENGINES = ("rulesengine", "rulesengine-2")


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    if not postgres_server_url():
        pytest.skip("PostgreSQL tests need LEVANTE_TEST_POSTGRES_URL")
    tmp: Path = tmp_path_factory.mktemp("timers-pg")
    found = start_system(tmp, "postgres", ("api", "runner", *ENGINES),
                         options={"rulesengine": {"poll_interval": "0.2"}})
    try:
        yield found
    finally:
        found.close()


def slots(db: Engine, ref: str) -> list[datetime]:
    with db.connect() as conn:
        return [r.slot_at for r in conn.execute(
            select(timer_slots.c.slot_at).where(timer_slots.c.trigger_ref == ref)
            .order_by(timer_slots.c.slot_at))]


def wait_slots(db: Engine, ref: str, count: int, timeout: float = 30) -> list[datetime]:
    deadline = time.monotonic() + timeout
    while len(found := slots(db, ref)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} slots, {count} expected")
        time.sleep(0.1)
    return found


def test_two_engines_fire_each_slot_once_and_a_downtime_once(system: System) -> None:
    with system.client() as client:
        made = client.post("/rules", json={
            "name": "tick", "pack": "default", "enabled": True,
            "trigger": {"type": "core.st2.IntervalTimer",
                        "parameters": {"unit": "seconds", "delta": 1}},
            "action": {"ref": "core.noop"}})
        assert made.status_code == 201, made.text
    db = make_engine(system.platform_db)
    try:
        with db.connect() as conn:
            ref = conn.execute(select(triggers.c.ref).where(
                triggers.c.type == "core.st2.IntervalTimer")).scalar_one()
        wait_slots(db, ref, 2)
        system.kill(ENGINES[1])  # kill -9: the other engine goes on alone
        fired = wait_slots(db, ref, len(slots(db, ref)) + 2)
        for name in ENGINES[:1]:
            system.stop(name)
        last = slots(db, ref)[-1]
        time.sleep(3.5)  # three or four slots fall while no engine runs
        restarted = datetime.now(UTC)
        system.start(ENGINES[0])
        wait_slots(db, ref, len(slots(db, ref)) + 2)
        system.stop(ENGINES[0])  # no slot fires while the rows are counted
        after = slots(db, ref)
        # The slots that fell while no engine ran fired as one: the latest of them (the
        # first after the gap), then one a second again.
        new = [s for s in after if s > last]
        assert (new[0] - last).total_seconds() >= 3, (last, new)
        assert new[0] <= restarted + timedelta(seconds=30)
        assert all((b - a).total_seconds() == 1 for a, b in itertools.pairwise(new)), new
        assert len(after) == len(set(after)) and len(after) > len(fired)
        with db.connect() as conn:
            instances = conn.execute(select(func.count()).select_from(trigger_instances)
                                     .where(trigger_instances.c.trigger == ref)).scalar_one()
        assert instances == len(after)  # one instance per slot, none doubled
    finally:
        db.dispose()
