"""Sensor files as StackStorm writes them: what is read from them, and each refusal with
its reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from levante.platform.sensors.metadata import (
    SensorFileError,
    parse_sensor,
    read_sensor_file,
    sensor_files,
)


def _pack(tmp_path: Path) -> Path:
    (tmp_path / "sensors").mkdir()
    (tmp_path / "sensors" / "watch.py").write_text("class Watch: pass\n")
    return tmp_path


def _parse(pack: Path, data: Any):  # type: ignore[no-untyped-def]
    return parse_sensor("mon", pack, data, pack / "sensors" / "watch.yaml")


def test_a_full_sensor_file(tmp_path: Path) -> None:
    pack = _pack(tmp_path)
    meta = _parse(pack, {
        "class_name": "Watch", "entry_point": "watch.py", "description": "Watches",
        "poll_interval": 30, "enabled": False,
        "trigger_types": [{"name": "changed", "description": "A change",
                           "payload_schema": {"type": "object"},
                           "parameters_schema": {"type": "object",
                                                 "properties": {"url": {"type": "string"}}},
                           "tags": ["x"]}]})
    assert meta.ref == "mon.Watch" and meta.name == "Watch"  # named by its class
    assert meta.entry_point == "sensors/watch.py"
    assert meta.metadata_file == "sensors/watch.yaml"
    assert meta.poll_interval == 30 and meta.enabled is False
    [kind] = meta.trigger_types
    assert kind.ref == "mon.changed" and kind.payload_schema == {"type": "object"}
    assert meta.row()["trigger_types"] == ["mon.changed"]


def test_defaults(tmp_path: Path) -> None:
    meta = _parse(_pack(tmp_path), {"class_name": "Watch", "entry_point": "watch.py"})
    assert meta.enabled is True and meta.poll_interval is None
    assert meta.trigger_types == [] and meta.description == ""


@pytest.mark.parametrize(("data", "reason"), [
    ([1, 2], "must be a mapping"),
    ({"entry_point": "watch.py"}, "'class_name'"),
    ({"class_name": "not a class", "entry_point": "watch.py"}, "'class_name'"),
    ({"class_name": "Watch"}, "'entry_point'"),
    ({"class_name": "Watch", "entry_point": "missing.py"}, "no Python file"),
    ({"class_name": "Watch", "entry_point": "../../etc/passwd"}, "outside the pack"),
    ({"class_name": "Watch", "entry_point": "watch.py", "enabled": "yes"}, "'enabled'"),
    ({"class_name": "Watch", "entry_point": "watch.py", "poll_interval": 0},
     "'poll_interval'"),
    ({"class_name": "Watch", "entry_point": "watch.py", "poll_interval": 2.5},
     "'poll_interval'"),
    ({"class_name": "Watch", "entry_point": "watch.py", "trigger_types": {"a": 1}},
     "'trigger_types' must be a list"),
    ({"class_name": "Watch", "entry_point": "watch.py", "trigger_types": [{}]},
     "trigger_types[0] needs a 'name'"),
    ({"class_name": "Watch", "entry_point": "watch.py",
      "trigger_types": [{"name": "a", "payload_schema": "text"}]},
     "trigger_types[0].payload_schema must be a mapping"),
    ({"class_name": "Watch", "entry_point": "watch.py",
      "trigger_types": [{"name": "a", "pack": "other"}]}, "names pack 'other'"),
    ({"class_name": "Watch", "entry_point": "watch.py",
      "trigger_types": [{"name": "a"}, {"name": "a"}]}, "twice"),
    ({"class_name": "Watch", "entry_point": "watch.py", "colour": "red"},
     "unknown field(s) colour"),
])
def test_refusals_say_why(tmp_path: Path, data: Any, reason: str) -> None:
    with pytest.raises(SensorFileError) as caught:
        _parse(_pack(tmp_path), data)
    assert reason in str(caught.value)


def test_files_and_bad_yaml(tmp_path: Path) -> None:
    pack = _pack(tmp_path)
    (pack / "sensors" / "b.yml").write_text("class_name: [unclosed\n")
    (pack / "sensors" / "a.yaml").write_text("class_name: Watch\nentry_point: watch.py\n")
    (pack / "sensors" / "notes.txt").write_text("not a sensor")
    assert [p.name for p in sensor_files(pack)] == ["a.yaml", "b.yml"]
    assert read_sensor_file("mon", pack, pack / "sensors" / "a.yaml").ref == "mon.Watch"
    with pytest.raises(SensorFileError, match="not valid YAML: line"):
        read_sensor_file("mon", pack, pack / "sensors" / "b.yml")
    assert sensor_files(tmp_path / "nowhere") == []
