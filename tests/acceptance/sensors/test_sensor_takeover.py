"""Two sensor containers on PostgreSQL (processes): each sensor runs in one of them; kill -9
of the one running a sensor in the middle of a burst of dispatches: the sensor's process
stops with its container, and the other container takes the sensor over once the lease
passed, the burst going on where it stopped (never two copies dispatching at once)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

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


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SensorSystem]:
    found = start_sensor_system(tmp_path_factory.mktemp("takeover"), "postgres",
                                containers=2)
    try:
        yield found
    finally:
        found.close()


def _owner(system: SensorSystem, name: str) -> str | None:
    found = re.search(r"sensor container ([0-9a-f-]{36}) started", system.log(name))
    return found.group(1) if found else None


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
                                                      "value": "1000000"})
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
    eventually(lambda: not _alive(sensor_pid), timeout=10,
               what="the sensor's process stopping with its container")
    eventually(lambda: f"[{BURST}] sensor claimed by this container" in system.log(other),
               what="the other container taking the sensor over")
    eventually(lambda: len(payloads(system, "sensortest.burst")) > seen + 100,
               what="the burst going on")
    numbers = [p["n"] for p in payloads(system, "sensortest.burst")]
    # Never two copies at once: at most the one event dispatched while the datastore's
    # "next" was not yet written is dispatched again by the new copy.
    assert len(numbers) - len(set(numbers)) <= 1
    assert sorted(set(numbers)) == list(range(len(set(numbers))))
    row = store.get_sensor(system.db, BURST)
    assert row is not None and owners[row["claimed_by"]] == other
