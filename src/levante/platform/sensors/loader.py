"""`pack register` for sensors: the content loader named in ``CONTENT_LOADERS``.

Every valid sensor file of the pack is stored with its trigger types (``<pack>.<name>``);
a bad file is reported (file and reason) and left out, and the pack's sensors that are no
longer on disk are removed.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from levante.platform.core.pack_registry import ContentLoaded
from levante.platform.sensors import store
from levante.platform.sensors.metadata import (
    SensorFileError,
    SensorMeta,
    read_sensor_file,
    sensor_files,
)


def load_pack_sensors(db: Engine, pack: str, pack_path: Path) -> ContentLoaded:
    """Register the sensors of ``pack`` (in ``pack_path``)."""
    loaded = ContentLoaded()
    found: list[SensorMeta] = []
    seen: dict[str, Path] = {}
    for file in sensor_files(pack_path):
        try:
            meta = read_sensor_file(pack, pack_path, file)
        except SensorFileError as exc:
            loaded.errors.append({"file": str(file), "reason": str(exc)})
            continue
        if meta.ref in seen:
            loaded.errors.append({"file": str(file), "reason": (
                f"sensor {meta.ref} is already described by {seen[meta.ref].name}")})
            continue
        seen[meta.ref] = file
        found.append(meta)
    written, removed = store.save_pack_sensors(db, pack, found)
    loaded.counts["sensors"] = written
    if removed:
        loaded.counts["sensors_removed"] = removed
    return loaded
