"""Two sensor containers and two rules engines on PostgreSQL (processes): each sensor runs
in one of the containers; kill -9 of the one running a sensor in the middle of a burst of
dispatches: the sensor's process stops with its container, the other container takes the
sensor over once the lease passed and the burst goes on where it stopped (never two copies
dispatching at once); every instance dispatched is enforced exactly once by the pack's
rule (one enforcement and one execution each)."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from levante.platform.core.models import executions
from levante.platform.rules.tables import rule_enforcements, rules
from levante.platform.sensors import store
from tests.acceptance.sensors.conftest import (
    SensorSystem,
    eventually,
    payloads,
    start_sensor_system,
)
from tests.harness import POSTGRES_ENV

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not os.environ.get(POSTGRES_ENV),
                                 reason=f"PostgreSQL tests need {POSTGRES_ENV}")]

BURST = "sensortest.BurstSensor"
NAMES = ("sensorcontainer", "sensorcontainer-2")
LIMIT = 1000


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SensorSystem]:
    found = start_sensor_system(
        tmp_path_factory.mktemp("takeover"), "postgres",
        ("api", "rulesengine", "rulesengine-2"), containers=2,
        options={"rulesengine": {"lease_seconds": 2, "poll_interval": 0.1}})
    try:
        yield found
    finally:
        found.close()


def _owner(system: SensorSystem, name: str) -> str | None:
    found = re.search(r"sensor container ([0-9a-f-]{36}) started", system.log(name))
    return found.group(1) if found else None


def _processed(system: SensorSystem, ids: set[str]) -> bool:
    found = store.instances_of(system.db, "sensortest.burst")
    return {r["id"] for r in found if r["status"] == "processed"} == ids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.timeout(300)
def test_kill_9_of_a_container_in_a_burst(system: SensorSystem) -> None:
    owners = {eventually(lambda n=name: _owner(system, n), what=f"{name} up"): name
              for name in NAMES}
    with httpx.Client(base_url=system.api, headers=system.headers, timeout=30) as http:
        done = http.put("/v1/keys/burst_limit", json={"name": "burst_limit",
                                                      "value": str(LIMIT)})
        assert done.status_code == 200, done.text
        done = http.put(f"/v1/sensortypes/{BURST}", json={"enabled": True})
        assert done.status_code == 200, done.text
    eventually(lambda: len(payloads(system, "sensortest.burst")) >= 100, what="a burst")
    row = store.get_sensor(system.db, BURST)
    assert row is not None and row["claimed_by"] in owners
    holder = owners[row["claimed_by"]]
    other = next(n for n in NAMES if n != holder)
    # Every other sensor runs in exactly one of the containers.
    for ref in ("sensortest.CounterSensor", "sensortest.CrashSensor"):
        assert store.get_sensor(system.db, ref)["claimed_by"] in owners
    started = re.findall(rf"\[{BURST}\] sensor started \(pid (\d+)\)", system.log(holder))
    sensor_pid = int(started[-1])
    assert _alive(sensor_pid)

    system.kill(holder)  # -9, in the middle of the burst
    seen = len(payloads(system, "sensortest.burst"))
    assert seen < LIMIT, "the burst ended before the kill: make it longer"
    eventually(lambda: not _alive(sensor_pid), timeout=10,
               what="the sensor's process stopping with its container")
    eventually(lambda: f"[{BURST}] sensor claimed by this container" in system.log(other),
               what="the other container taking the sensor over")
    eventually(lambda: {p["n"] for p in payloads(system, "sensortest.burst")}
               == set(range(LIMIT)), timeout=120, what="the burst to its end")
    numbers = [p["n"] for p in payloads(system, "sensortest.burst")]
    # Never two copies at once: at most the one event dispatched while the datastore's
    # "next" was not yet written is dispatched again by the new copy.
    assert len(numbers) - len(set(numbers)) <= 1

    # Every instance enforced exactly once by the pack's rule, one execution each.
    ids = {r["id"] for r in store.instances_of(system.db, "sensortest.burst")}
    eventually(lambda: _processed(system, ids), timeout=120, what="every instance processed")
    with system.db.connect() as conn:
        rule_id = conn.execute(select(rules.c.id).where(
            rules.c.ref == "sensortest.on_burst")).scalar_one()
        enforced = Counter(r.trigger_instance_id for r in conn.execute(
            select(rule_enforcements.c.trigger_instance_id)
            .where(rule_enforcements.c.rule_id == rule_id)))
        started = Counter(c["trigger_instance"]["id"] for (c,) in conn.execute(
            select(executions.c.context)) if isinstance(c, dict)
            and (c.get("rule") or {}).get("ref") == "sensortest.on_burst")
    assert set(enforced) == ids and set(enforced.values()) == {1}
    assert set(started) == ids and set(started.values()) == {1}
    row = store.get_sensor(system.db, BURST)
    assert row is not None and owners[row["claimed_by"]] == other
