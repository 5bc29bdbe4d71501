"""The container's small rules: restart delays, log levels of a sensor's output lines,
StackStorm's names (local key prefix, entry point, API view) and the shim's classes."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from levante.platform.sensors.api import entry_point_of, view
from levante.platform.sensors.calls import key_prefix
from levante.platform.sensors.process import SHIM_DIR, WRAPPER, Backoff, log_line


def test_backoff_doubles_up_to_the_cap_and_resets_after_a_good_run() -> None:
    backoff = Backoff(initial=1, maximum=10, reset_after=60)
    assert [backoff.next_delay(0.5) for _ in range(6)] == [1, 2, 4, 8, 10, 10]
    assert backoff.next_delay(61) == 1  # it ran a while: the count starts again
    assert backoff.next_delay(1) == 2


def test_backoff_stays_at_the_cap_however_long_a_sensor_keeps_crashing() -> None:
    backoff = Backoff(initial=0.5, maximum=60.0, reset_after=60.0)
    delays = [backoff.next_delay(0.5) for _ in range(2000)]  # (2 ** 1024 overflowed)
    assert delays[-1] == 60 and max(delays) == 60


def test_output_lines_keep_their_level(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="levante.platform.sensors")
    level = log_line("p.S", "ERROR SensorWrapper.p.S: it failed\n")
    level = log_line("p.S", "Traceback (most recent call last):", level)
    level = log_line("p.S", '  File "x.py", line 1', level)
    level = log_line("p.S", "RuntimeError: boom", level)
    level = log_line("p.S", "printed by the sensor", level)
    log_line("p.S", "   ", level)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.ERROR, "[p.S] SensorWrapper.p.S: it failed"),
        (logging.ERROR, "[p.S] Traceback (most recent call last):"),
        (logging.ERROR, '[p.S]   File "x.py", line 1'),
        (logging.ERROR, "[p.S] RuntimeError: boom"),
        (logging.INFO, "[p.S] printed by the sensor"),
    ]


def test_stackstorm_names() -> None:
    assert key_prefix("mon", "Watch") == "mon.Watch:"
    row = {"id": "a" * 24, "ref": "mon.Watch", "pack": "mon", "name": "Watch",
           "class_name": "Watch", "entry_point": "sensors/watch.py", "description": "d",
           "enabled": True, "poll_interval": None, "trigger_types": ["mon.changed"],
           "metadata_file": "sensors/watch.yaml"}
    assert entry_point_of(row) == "sensors.watch.Watch"
    doc = view(row, "/packs/mon")
    assert doc["uid"] == "sensor_type:mon:Watch"
    assert doc["artifact_uri"] == "file:///packs/mon/sensors/watch.py"
    assert "poll_interval" not in doc
    assert view({**row, "poll_interval": 30}, None)["poll_interval"] == 30


def test_the_shim_classes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SHIM_DIR))
    for name in [m for m in sys.modules if m.startswith("st2reactor")]:
        monkeypatch.delitem(sys.modules, name)
    from st2reactor.sensor.base import PollingSensor, Sensor  # type: ignore[import-not-found]

    class Poller(PollingSensor):  # type: ignore[misc]
        def poll(self) -> None:
            pass

    sensor = Poller(sensor_service="svc", config={"a": 1}, poll_interval=7)
    assert sensor.sensor_service == "svc" and sensor._sensor_service == "svc"
    assert sensor.config == {"a": 1} and sensor.get_poll_interval() == 7
    sensor.set_poll_interval(3)
    assert sensor.get_poll_interval() == 3
    assert Poller("svc").get_poll_interval() == 5 and Poller("svc").config == {}
    passive = Sensor("svc")
    passive.setup()
    passive.add_trigger({"ref": "x"})
    with pytest.raises(NotImplementedError):
        passive.run()
    assert Path(WRAPPER).is_file()
