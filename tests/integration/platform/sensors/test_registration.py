"""`pack register` and sensors (SQLite): valid sensors stored with their trigger types, a
bad file reported with its reason and left out, sensors gone from disk removed, a
re-registration that changes nothing leaving the row as it was."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from levante.db.connect import make_engine
from levante.platform.core.pack_registry import register_packs
from levante.platform.sensors import store
from levante.platform.triggers.tables import trigger_types
from tests.harness import migrated_sqlite, write_pack

SENSOR = """---
class_name: {cls}
entry_point: watch.py
poll_interval: 10
trigger_types:
  - name: {trigger}
    description: the {trigger} event
    payload_schema: {{type: object, properties: {{n: {{type: integer}}}}}}
"""


def test_register_sensors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrated_sqlite(url)
    db = make_engine(url)
    root = write_pack(tmp_path / "packs", "mon", {
        "pack.yaml": "ref: mon\nname: mon\ndescription: d\nversion: 1.0.0\nauthor: t\n",
        "sensors/watch.py": "class Watch: pass\nclass Other: pass\n",
        "sensors/watch.yaml": SENSOR.format(cls="Watch", trigger="changed"),
        "sensors/other.yaml": SENSOR.format(cls="Other", trigger="other"),
        "sensors/broken.yaml": "class_name: Broken\n",
    })
    try:
        report = register_packs(db, [str(root)], ["mon"])
        assert report.content["sensors"] == 2
        assert report.errors == [{"file": str(root / "mon" / "sensors" / "broken.yaml"),
                                  "reason": "'entry_point' must name the sensor's Python "
                                            "file (relative to the sensor file's folder)"}]
        rows, total = store.list_sensors(db, pack="mon")
        assert total == 2 and [r["ref"] for r in rows] == ["mon.Other", "mon.Watch"]
        watch = store.get_sensor(db, "mon.Watch")
        assert watch is not None and watch["trigger_types"] == ["mon.changed"]
        assert store.get_sensor(db, str(watch["id"]))["ref"] == "mon.Watch"  # by id too
        with db.connect() as conn:
            kinds = {r.ref: r for r in conn.execute(select(trigger_types))}
        assert kinds["mon.changed"].payload_schema["properties"]["n"] == {"type": "integer"}
        assert kinds["mon.changed"].description == "the changed event"
        assert store.payload_schema(db, "mon.changed") == kinds["mon.changed"].payload_schema

        again = register_packs(db, [str(root)], ["mon"])
        assert again.content["sensors"] == 2
        assert store.get_sensor(db, "mon.Watch")["updated_at"] == watch["updated_at"]

        (root / "mon" / "sensors" / "other.yaml").unlink()
        (root / "mon" / "sensors" / "watch.yaml").write_text(
            SENSOR.format(cls="Watch", trigger="changed").replace("10", "20"))
        third = register_packs(db, [str(root)], ["mon"])
        assert third.content["sensors"] == 1 and third.content["sensors_removed"] == 1
        assert store.get_sensor(db, "mon.Other") is None
        changed = store.get_sensor(db, "mon.Watch")
        assert changed["poll_interval"] == 20 and changed["updated_at"] > watch["updated_at"]
    finally:
        db.dispose()
