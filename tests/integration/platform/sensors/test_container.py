"""The sensor container on a real database (SQLite and PostgreSQL) with the test pack: a
polling sensor dispatching through its sensor service (instances committed, payloads
checked against their schema, the pack config passed, local datastore keys prefixed as in
StackStorm, add_trigger and remove_trigger following the triggers of its types), a
crashing sensor restarted with backoff, disable (cleanup runs, lease given
back) and enable; on PostgreSQL two containers sharing the sensors, each run once; a pack
with a virtual environment of its own runs its sensor with that environment's Python
(where Levante is not installed)."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete

from levante.db.connect import make_engine, writing
from levante.db.times import now
from levante.platform.core import store as core_store
from levante.platform.core.pack_env import PackEnvSettings, setup_virtualenv
from levante.platform.core.pack_registry import register_packs
from levante.platform.datastore import store as kv_store
from levante.platform.sensors import store
from levante.platform.triggers import store as trigger_store
from levante.platform.triggers.tables import triggers
from tests.harness import eventually, migrated_sqlite
from tests.integration.platform.sensors.conftest import FAST, Containers

ENV_PACKS = Path(__file__).resolve().parent / "envpacks"
COUNTER = "sensortest.CounterSensor"
CRASHER = "sensortest.CrashSensor"


def _key(db: Engine, name: str) -> str | None:
    row = kv_store.get(db, "system", "", name, now())
    return None if row is None else str(row["value"])


def test_container_runs_restarts_and_follows_enable(sensor_db: Engine,
                                                    containers: Containers) -> None:
    db = sensor_db
    container = containers.start()

    ticks = eventually(lambda: (found := store.instances_of(db, "sensortest.tick"))
                       and len(found) >= 3 and found, what="three ticks")
    counts = [t["payload"]["count"] for t in ticks]
    assert counts == list(range(1, len(counts) + 1))  # the bad payloads were refused
    assert all(t["payload"]["greeting"] == "hello" for t in ticks)  # the pack's config
    assert all(t["status"] == "pending" for t in ticks)
    assert int(_key(db, "sensortest.CounterSensor:count") or 0) >= 3

    # The crashing sensor: started again and again, each time a little later.
    crashes = eventually(lambda: (found := store.instances_of(db, "sensortest.crashed"))
                         and len(found) >= 3 and found, what="three starts of the crasher")
    assert [c["payload"]["start"] for c in crashes[:3]] == [1, 2, 3]
    process = container.running[CRASHER].process
    assert process.starts >= 3 and process.backoff.failures >= 2
    gaps = [b["payload"]["at"] - a["payload"]["at"] for a, b in itertools.pairwise(crashes)]
    assert gaps[1] >= 0.6  # waited at least the second backoff (0.3 s doubled)

    # Triggers of the sensor's types: add_trigger, and remove_trigger once deleted.
    with writing(db) as conn:
        watched = trigger_store.ensure_trigger(conn, "sensortest.watched",
                                               {"url": "http://example.test"})
    key = f"sensortest.CounterSensor:watch:{watched}"
    eventually(lambda: _key(db, key) == "http://example.test", what="add_trigger")
    with writing(db) as conn:
        conn.execute(delete(triggers).where(triggers.c.ref == watched))
    eventually(lambda: _key(db, key) is None, what="remove_trigger")

    held = store.get_sensor(db, COUNTER)
    assert held is not None and held["claimed_by"] == container.owner
    assert store.get_sensor(db, "sensortest.BurstSensor")["claimed_by"] is None  # disabled

    # Disabled: stopped (its cleanup ran), its lease given back; enabled: started again.
    store.set_enabled(db, str(held["id"]), False)
    eventually(lambda: _key(db, "cleaned") == "yes", what="the counter's cleanup")
    eventually(lambda: store.get_sensor(db, COUNTER)["claimed_by"] is None,
               what="the lease given back")
    assert COUNTER not in container.running
    before = len(store.instances_of(db, "sensortest.tick"))
    store.set_enabled(db, str(held["id"]), True)
    eventually(lambda: len(store.instances_of(db, "sensortest.tick")) > before + 1,
               what="ticks after enabling again")
    # Enabling it again changes nothing (a changed row would restart it).
    stamp = store.get_sensor(db, COUNTER)["updated_at"]
    assert store.set_enabled(db, str(held["id"]), True)["updated_at"] == stamp

    containers.stop(container)
    assert store.get_sensor(db, COUNTER)["claimed_by"] is None


@pytest.mark.parametrize("database_url", [pytest.param("postgres",
                                                       marks=pytest.mark.postgres)],
                         indirect=True)
def test_two_containers_share_the_sensors(sensor_db: Engine, containers: Containers) -> None:
    db = sensor_db
    first = containers.start()
    second = containers.start()
    eventually(lambda: len(store.instances_of(db, "sensortest.tick")) >= 4, what="ticks")
    for ref in (COUNTER, CRASHER):
        row = store.get_sensor(db, ref)
        assert row is not None and row["claimed_by"] in (first.owner, second.owner)
    running = [ref for c in (first, second) for ref in c.running]
    assert sorted(running) == sorted({*running})  # no sensor in both
    # One counter at a time: its counts never repeat.
    counts = [t["payload"]["count"] for t in store.instances_of(db, "sensortest.tick")]
    assert len(counts) == len(set(counts))

    holder = first if COUNTER in first.running else second
    other = second if holder is first else first
    containers.stop(holder)  # gives its leases back: the other takes them over
    eventually(lambda: COUNTER in other.running, what="the counter taken over")
    seen = len(store.instances_of(db, "sensortest.tick"))
    eventually(lambda: len(store.instances_of(db, "sensortest.tick")) > seen,
               what="ticks from the other container")
    counts = [t["payload"]["count"] for t in store.instances_of(db, "sensortest.tick")]
    assert len(counts) == len(set(counts))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_pack_environment_runs_its_sensor(database_url: str, tmp_path: Path) -> None:
    migrated_sqlite(database_url)
    db = make_engine(database_url)
    envs = PackEnvSettings(root=tmp_path / "virtualenvs")
    setup_virtualenv(envs, "sensorenv", ENV_PACKS / "sensorenv")
    containers = Containers(db, tmp_path / "crypto_key")
    try:
        assert not register_packs(db, [str(ENV_PACKS)], ["sensorenv"]).errors
        containers.start(dataclasses.replace(FAST, virtualenvs_dir=envs.root))
        [first, *_] = eventually(lambda: store.instances_of(db, "sensorenv.where"),
                                 what="the sensor's report")
        assert first["payload"]["python"].startswith(str(envs.root / "sensorenv"))
        assert first["payload"]["levante"] is False
    finally:
        containers.close()
        db.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_container_claims_its_share(sensor_db: Engine, containers: Containers) -> None:
    """Two containers alive (one of them a registry entry here) and two enabled sensors:
    one each; once the other's heartbeat is older than a lease, the rest is taken too."""
    db = sensor_db
    core_store.register_process(db, "another-container", store.ROLE)
    container = containers.start()
    eventually(lambda: len(container.running) == 1, what="one sensor claimed")
    claimed = [store.get_sensor(db, ref) for ref in (COUNTER, CRASHER)]
    owners = [r["claimed_by"] for r in claimed if r]
    assert sorted(owners, key=str) == sorted([None, container.owner], key=str)  # its share
    eventually(lambda: len(container.running) == 2, what="the rest once the other is gone")
    core_store.deregister_process(db, "another-container")
