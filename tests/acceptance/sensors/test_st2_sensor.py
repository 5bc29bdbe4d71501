"""Pack sensors on a running system (SQLite): `levante serve api`, `runner`, `rulesengine`
and `sensorcontainer` as processes, driven by the real `st2` CLI and `levante sensor`:
list, get, disable (the sensor stops, its cleanup runs), enable (it runs again); the
sensors' triggers recorded, their output in the container's log under their ref, the
crashing sensor restarted with backoff; the pack's rules turning what the sensors dispatch
(and the crashed sensor's process_exit) into executions."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.sensors.conftest import (
    ST2,
    SensorSystem,
    eventually,
    payloads,
    start_sensor_system,
)

pytestmark = pytest.mark.skipif(not ST2.exists(), reason="st2client is not installed")

COUNTER = "sensortest.CounterSensor"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SensorSystem]:
    found = start_sensor_system(tmp_path_factory.mktemp("sensors"), "sqlite",
                                ("api", "runner", "rulesengine"),
                                options={"rulesengine": {"poll_interval": 0.1},
                                         "runner": {"poll_interval": 0.1}})
    try:
        yield found
    finally:
        found.close()


def _json(done: object) -> object:
    assert done.returncode == 0, done.stdout + done.stderr  # type: ignore[attr-defined]
    return json.loads(done.stdout)  # type: ignore[attr-defined]


@pytest.mark.timeout(300)
def test_st2_sensor_commands(system: SensorSystem, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    listed = system.st2(home, "sensor", "list")
    assert listed.returncode == 0, listed.stderr
    for ref in (COUNTER, "sensortest.CrashSensor", "sensortest.BurstSensor"):
        assert ref in listed.stdout
    docs = _json(system.st2(home, "sensor", "list", "-p", "sensortest", "-j"))
    assert {d["ref"]: d["enabled"] for d in docs} == {  # type: ignore[union-attr, index]
        "sensortest.BurstSensor": False, COUNTER: True, "sensortest.CrashSensor": True}
    none = system.st2(home, "sensor", "list", "-p", "nosuchpack")
    assert none.returncode == 0 and "No matching items found" in none.stdout

    doc = _json(system.st2(home, "sensor", "get", COUNTER, "-j"))
    assert doc["uid"] == "sensor_type:sensortest:CounterSensor"  # type: ignore[index]
    assert doc["entry_point"] == "sensors.counter.CounterSensor"  # type: ignore[index]
    assert doc["trigger_types"] == ["sensortest.tick", "sensortest.watched"]  # type: ignore[index]
    assert doc["poll_interval"] == 1 and doc["enabled"] is True  # type: ignore[index]
    assert str(doc["artifact_uri"]).endswith("sensortest/sensors/counter.py")  # type: ignore[index]
    by_id = _json(system.st2(home, "sensor", "get", str(doc["id"]), "-j"))  # type: ignore[index]
    assert by_id["ref"] == COUNTER  # type: ignore[index]
    missing = system.st2(home, "sensor", "get", "sensortest.Nope")
    assert missing.returncode != 0
    assert "sensortest.Nope" in missing.stdout + missing.stderr

    # The sensors run: triggers recorded, output logged under each sensor's ref.
    eventually(lambda: len(payloads(system, "sensortest.tick")) >= 2, what="ticks")
    eventually(lambda: "[sensortest.CounterSensor] counter printed" in system.log(),
               what="the sensor's print in the container's log")
    eventually(lambda: len(payloads(system, "sensortest.crashed")) >= 3,
               what="three starts of the crashing sensor")
    log = system.log()
    assert "[sensortest.CrashSensor] restarting the sensor in 0.3 s (failure 1 in a row)" in log
    assert "[sensortest.CrashSensor] restarting the sensor in 0.6 s (failure 2 in a row)" in log
    assert "[sensortest.CrashSensor] sensor started (pid" in log
    assert "RuntimeError: crash number 1" in log
    count = _json(system.st2(home, "key", "get", "sensortest.CounterSensor:count", "-j"))
    assert int(count["value"]) >= 2  # type: ignore[index]

    # Disabled: the container stops it (its cleanup runs); enabled: it runs again.
    off = system.st2(home, "sensor", "disable", COUNTER, "-j")
    assert _json(off)["enabled"] is False  # type: ignore[index]
    eventually(lambda: system.st2(home, "key", "get", "cleaned").returncode == 0,
               what="the sensor's cleanup")
    eventually(lambda: f"[{COUNTER}] stopping the sensor: disabled" in system.log(),
               what="the stop in the log")
    assert _json(system.st2(home, "sensor", "get", COUNTER, "-j"))["enabled"] is False  # type: ignore[index]
    before = len(payloads(system, "sensortest.tick"))
    on = system.st2(home, "sensor", "enable", COUNTER)
    assert on.returncode == 0 and "True" in on.stdout, on.stdout + on.stderr
    eventually(lambda: len(payloads(system, "sensortest.tick")) > before + 1,
               what="ticks after enabling")
    counts = [p["count"] for p in payloads(system, "sensortest.tick")]
    assert counts == list(range(1, len(counts) + 1))  # the datastore kept the count


def test_levante_sensor_commands_and_api_errors(system: SensorSystem) -> None:
    listed = system.levante("sensor", "list")
    assert listed.returncode == 0 and COUNTER in listed.stdout, listed.stderr
    got = system.levante("sensor", "get", COUNTER)
    assert got.returncode == 0 and "sensortest.tick" in got.stdout, got.stderr
    off = system.levante("sensor", "disable", "sensortest.CrashSensor")
    assert off.returncode == 0 and "disabled" in off.stdout, off.stderr
    eventually(lambda: "[sensortest.CrashSensor] stopping the sensor: disabled"
               in system.log(), what="the crasher stopped")
    on = system.levante("sensor", "enable", "sensortest.CrashSensor", "-j")
    assert on.returncode == 0 and json.loads(on.stdout)["enabled"] is True
    missing = system.levante("sensor", "get", "nope.Nope")
    assert missing.returncode != 0 and "nope.Nope" in missing.stderr

    with httpx.Client(base_url=system.api, headers=system.headers, timeout=30) as http:
        bad = http.put(f"/v1/sensortypes/{COUNTER}", json={"enabled": "yes"})
        assert bad.status_code == 400 and "'enabled'" in bad.json()["faultstring"]
        bad = http.put(f"/v1/sensortypes/{COUNTER}", json={"enabled": True, "colour": 1})
        assert bad.status_code == 400 and "colour" in bad.json()["faultstring"]
        bad = http.put(f"/v1/sensortypes/{COUNTER}", content=b"not json")
        assert bad.status_code == 400
        assert http.put("/v1/sensortypes/x.Y", json={"enabled": True}).status_code == 404
        assert http.get("/v1/sensortypes", params={"enabled": "maybe"}).status_code == 400
        page = http.get("/v1/sensortypes", params={"limit": 1, "enabled": "true"})
        assert page.status_code == 200 and len(page.json()) == 1
        assert page.headers["X-Total-Count"] == "2"
        assert httpx.get(f"{system.api}/v1/sensortypes").status_code == 401


def _executions(system: SensorSystem, rule: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=system.api, headers=system.headers, timeout=30) as http:
        found = http.get("/v1/executions", params={"limit": 200}).json()
    return [e for e in found
            if (e.get("context") or {}).get("rule", {}).get("ref") == rule]


@pytest.mark.timeout(300)
def test_a_rule_turns_sensor_triggers_into_executions(system: SensorSystem,
                                                      tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    rules = _json(system.st2(home, "rule", "list", "-p", "sensortest", "-j"))
    assert {"sensortest.on_tick", "sensortest.on_crash"} <= {
        r["ref"] for r in rules}  # type: ignore[union-attr, index]

    # Each tick the counter sensor dispatches runs core.local with the tick's payload.
    done = eventually(lambda: [e for e in _executions(system, "sensortest.on_tick")
                               if e["status"] == "succeeded"], what="a tick's execution")
    execution = done[0]
    assert execution["action"]["ref"] == "core.local"
    assert re.fullmatch(r"tick \d+ hello", execution["result"]["stdout"].strip())
    instance_id = execution["context"]["trigger_instance"]["id"]
    instance = _json(system.st2(home, "trigger-instance", "get", instance_id, "-j"))
    assert instance["trigger"] == "sensortest.tick"  # type: ignore[index]
    assert execution["result"]["stdout"].strip() == (
        f"tick {instance['payload']['count']} hello")  # type: ignore[index]
    enforced = _json(system.st2(home, "rule-enforcement", "list", "--rule",
                                "sensortest.on_tick", "-j"))
    assert instance_id in {e["trigger_instance_id"] for e in enforced}  # type: ignore[union-attr, index]

    # The crashing sensor's exits (core.st2.sensor.process_exit) start the on_crash rule's
    # core.noop: a crash, a restart, a crash again, each seen by a rule.
    crashes = eventually(lambda: len(_executions(system, "sensortest.on_crash")) >= 2
                         and _executions(system, "sensortest.on_crash"),
                         what="executions for two crashes")
    exits = _json(system.st2(home, "trigger-instance", "list", "--trigger",
                             "core.st2.sensor.process_exit", "-n", "-1", "-a", "all", "-j"))
    ours = [i for i in exits  # type: ignore[union-attr]
            if i["payload"]["id"] == "CrashSensor"]  # type: ignore[index]
    failed = {i["id"] for i in ours if i["payload"]["exit_code"] == 1}  # type: ignore[index]
    assert len(failed) >= 2  # (a stop shows another code: not the rule's criteria)
    assert {c["context"]["trigger_instance"]["id"] for c in crashes} <= failed
    spawns = _json(system.st2(home, "trigger-instance", "list", "--trigger",
                              "core.st2.sensor.process_spawn", "-n", "-1", "-a", "all",
                              "-j"))
    assert any(i["payload"]["id"] == "CrashSensor" and i["payload"]["pid"]  # type: ignore[index]
               for i in spawns)  # type: ignore[union-attr]
