"""A pack's sensor files (``sensors/*.yaml``) as StackStorm writes them, read and checked.

One file describes one sensor: ``class_name`` and ``entry_point`` (the Python file, next
to the YAML file) are required; ``description``, ``enabled`` (default true),
``poll_interval`` (seconds, for a ``PollingSensor``) and ``trigger_types`` (each with
``name``, ``description``, ``payload_schema``, ``parameters_schema``, ``tags``) are
optional. As in StackStorm the sensor's name is its class name and its ref
``<pack>.<class_name>``; its trigger types are registered as ``<pack>.<name>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from levante.platform.core.yaml_files import YamlFileError, read_yaml

KNOWN_FIELDS = frozenset({"class_name", "entry_point", "description", "enabled",
                          "poll_interval", "trigger_types", "name", "pack", "ref",
                          "artifact_uri", "parameters_schema"})


class SensorFileError(ValueError):
    """A sensor file that cannot be registered; the message says why."""


@dataclass(frozen=True)
class TriggerTypeMeta:
    """A trigger type declared by a sensor: what it emits."""

    ref: str
    name: str
    description: str = ""
    payload_schema: dict[str, Any] = field(default_factory=dict)
    parameters_schema: dict[str, Any] = field(default_factory=dict)
    tags: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class SensorMeta:
    """One sensor as registered: ``entry_point`` is the Python file's path relative to
    the pack's folder (``sensors/my_sensor.py``)."""

    ref: str
    pack: str
    name: str
    class_name: str
    entry_point: str
    description: str
    enabled: bool
    poll_interval: int | None
    trigger_types: list[TriggerTypeMeta]
    metadata_file: str  # relative to the pack's folder

    def row(self) -> dict[str, Any]:
        """The columns of the ``sensors`` table this file gives."""
        return {"ref": self.ref, "pack": self.pack, "name": self.name,
                "class_name": self.class_name, "entry_point": self.entry_point,
                "description": self.description, "enabled": self.enabled,
                "poll_interval": self.poll_interval,
                "trigger_types": [t.ref for t in self.trigger_types],
                "metadata_file": self.metadata_file}


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SensorFileError(f"{what} must be a mapping (a JSON schema), not "
                              f"{type(value).__name__}")
    return value


def _trigger_type(pack: str, index: int, item: Any) -> TriggerTypeMeta:
    where = f"trigger_types[{index}]"
    if not isinstance(item, dict):
        raise SensorFileError(f"{where} must be a mapping with a 'name'")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SensorFileError(f"{where} needs a 'name' (a non-empty string)")
    given_pack = item.get("pack")
    if given_pack not in (None, pack):
        raise SensorFileError(f"{where} names pack {given_pack!r}, but the file is in pack "
                              f"{pack!r}")
    description = item.get("description") or ""
    if not isinstance(description, str):
        raise SensorFileError(f"{where}.description must be a string")
    tags = item.get("tags") or []
    if not isinstance(tags, list):
        raise SensorFileError(f"{where}.tags must be a list")
    return TriggerTypeMeta(
        ref=f"{pack}.{name}", name=name, description=description,
        payload_schema=_mapping(item.get("payload_schema"), f"{where}.payload_schema"),
        parameters_schema=_mapping(item.get("parameters_schema"),
                                   f"{where}.parameters_schema"),
        tags=tags)


def parse_sensor(pack: str, pack_path: Path, data: Any, metadata_file: Path) -> SensorMeta:
    """The sensor that ``data`` (a sensor file's YAML) describes; SensorFileError says what
    is wrong. ``metadata_file`` is the YAML file (its folder holds the entry point)."""
    if not isinstance(data, dict):
        raise SensorFileError("a sensor file must be a mapping (class_name, entry_point, "
                              "trigger_types, ...)")
    unknown = sorted(str(k) for k in data if k not in KNOWN_FIELDS)
    if unknown:
        raise SensorFileError(f"unknown field(s) {', '.join(unknown)} (a sensor has "
                              "class_name, entry_point, description, enabled, poll_interval, "
                              "trigger_types)")
    class_name = data.get("class_name")
    if not isinstance(class_name, str) or not class_name.isidentifier():
        raise SensorFileError("'class_name' must name the sensor's Python class "
                              f"(an identifier), not {class_name!r}")
    entry = data.get("entry_point")
    if not isinstance(entry, str) or not entry.strip():
        raise SensorFileError("'entry_point' must name the sensor's Python file "
                              "(relative to the sensor file's folder)")
    source = (metadata_file.parent / entry).resolve()
    root = pack_path.resolve()
    if not source.is_relative_to(root):
        raise SensorFileError(f"entry_point {entry!r} is outside the pack's folder")
    if source.suffix != ".py" or not source.is_file():
        raise SensorFileError(f"entry_point {entry!r}: no Python file "
                              f"{source.relative_to(root)} in the pack")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise SensorFileError("'description' must be a string")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise SensorFileError(f"'enabled' must be true or false, not {enabled!r}")
    poll = data.get("poll_interval")
    if poll is not None and (isinstance(poll, bool) or not isinstance(poll, int | float)
                             or poll < 1 or int(poll) != poll):
        raise SensorFileError(f"'poll_interval' must be a whole number of seconds (at least "
                              f"1), not {poll!r}")
    items = data.get("trigger_types") or []
    if not isinstance(items, list):
        raise SensorFileError("'trigger_types' must be a list of trigger types")
    types = [_trigger_type(pack, i, item) for i, item in enumerate(items)]
    names = [t.name for t in types]
    if len(set(names)) != len(names):
        raise SensorFileError("'trigger_types' names a trigger type twice")
    return SensorMeta(
        ref=f"{pack}.{class_name}", pack=pack, name=class_name, class_name=class_name,
        entry_point=source.relative_to(root).as_posix(), description=description,
        enabled=enabled, poll_interval=int(poll) if poll is not None else None,
        trigger_types=types,
        metadata_file=metadata_file.resolve().relative_to(root).as_posix())


def read_sensor_file(pack: str, pack_path: Path, file: Path) -> SensorMeta:
    """Read and check one sensor file."""
    try:
        data = read_yaml(file)
    except YamlFileError as exc:
        raise SensorFileError(str(exc)) from None
    return parse_sensor(pack, pack_path, data, file)


def sensor_files(pack_path: Path) -> list[Path]:
    """The pack's sensor files, sorted (``sensors/*.yaml`` and ``*.yml``)."""
    folder = pack_path / "sensors"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix in (".yaml", ".yml"))
