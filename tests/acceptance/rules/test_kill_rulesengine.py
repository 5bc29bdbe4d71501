"""kill -9 of a rules engine in the middle of a burst, on PostgreSQL with two rules
engines sharing the work: every instance is enforced exactly once (one enforcement per
instance and rule, one execution per enforcement), whatever the killed engine held.

The burst is recorded straight into the database (the webhook endpoint is another
feature's); the claims of the killed engine are taken over when their lease (2 s here)
runs out, and the engine is started again halfway."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from levante.db.connect import make_engine, writing
from levante.platform.core.models import executions
from levante.platform.rules.tables import rule_enforcements
from levante.platform.triggers.store import record_instance
from levante.platform.triggers.tables import trigger_instances
from tests.conftest import postgres_server_url
from tests.harness import System, eventually, start_system

pytestmark = pytest.mark.postgres

BURST = 1500


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    if not postgres_server_url():
        pytest.skip("PostgreSQL tests need LEVANTE_TEST_POSTGRES_URL")
    tmp: Path = tmp_path_factory.mktemp("rules-kill")
    found = start_system(tmp, "postgres", ("api", "rulesengine", "rulesengine-2"),
                         options={"rulesengine": {"lease_seconds": "2", "batch_size": "20",
                                                  "poll_interval": "0.2"}})
    try:
        yield found
    finally:
        found.close()


def counts(db: Engine) -> tuple[int, int]:
    """(instances not processed yet, enforcements)."""
    with db.connect() as conn:
        left = conn.execute(select(func.count()).select_from(trigger_instances).where(
            trigger_instances.c.status != "processed")).scalar_one()
        done = conn.execute(select(func.count()).select_from(rule_enforcements)).scalar_one()
    return int(left), int(done)


@pytest.mark.timeout(300)
def test_kill_9_mid_burst_enforces_every_instance_once(system: System) -> None:
    with system.client() as client:
        made = client.post("/rules", json={
            "name": "burst", "pack": "ops", "enabled": True,
            "trigger": {"type": "core.st2.webhook", "parameters": {"url": "burst"}},
            "action": {"ref": "core.noop"}})
        assert made.status_code == 201, made.text
    trigger = made.json()["trigger"]["ref"]
    db = make_engine(system.platform_db)
    try:
        ids: list[str] = []
        for start in range(0, BURST, 100):
            with writing(db) as conn:
                ids += [record_instance(conn, trigger, {"body": {"n": n}, "headers": {}})
                        for n in range(start, start + 100)]
        eventually(lambda: counts(db)[1] >= BURST // 10, 120, "the burst to be under way", 0.05)
        system.kill("rulesengine")
        _, at_kill = counts(db)
        assert at_kill < BURST, "the burst ended before the kill: make it larger"
        eventually(lambda: counts(db)[1] >= (at_kill + BURST) // 2, 120, "the survivor's work",
                   0.05)
        system.start("rulesengine")
        eventually(lambda: counts(db) == (0, BURST), 120, "every instance processed", 0.05)

        with db.connect() as conn:
            pairs = Counter(conn.execute(select(rule_enforcements.c.trigger_instance_id)))
            started = [r.context for r in conn.execute(select(executions.c.context))]
        assert set(pairs) == {(i,) for i in ids}
        assert set(pairs.values()) == {1}
        per_instance = Counter(c["trigger_instance"]["id"] for c in started
                               if isinstance(c, dict) and "trigger_instance" in c)
        assert set(per_instance) == set(ids) and set(per_instance.values()) == {1}
    finally:
        db.dispose()
