"""Every SQL statement of the sensors feature: registering a pack's sensors, the listings of
the API, enabling and disabling, and the leases by which sensor containers share them.

A lease: ``claimed_by`` (a container's process id) runs the sensor until ``lease_until``;
the container renews it every few seconds. A claim is one conditional ``UPDATE`` (free, or
its lease passed), atomic on SQLite and PostgreSQL alike: two containers can never both
win the same sensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from levante.db.connect import writing
from levante.db.metadata import processes
from levante.db.times import aware, now
from levante.identity.keys import new_id
from levante.platform.core.models import packs
from levante.platform.core.store import reading
from levante.platform.sensors.metadata import SensorMeta
from levante.platform.sensors.tables import sensors
from levante.platform.triggers import store as trigger_store
from levante.platform.triggers.tables import trigger_instances, trigger_types, triggers

Row = dict[str, Any]

# What a re-registration compares: a change of any of these is a new version of the sensor
# (``updated_at`` moves, and a running sensor is restarted with it).
_COMPARED = ("pack", "name", "class_name", "entry_point", "description", "enabled",
             "poll_interval", "trigger_types", "metadata_file")


def _row(found: Any) -> Row:
    row = dict(found._mapping)
    for column in ("created_at", "updated_at", "lease_until"):
        row[column] = aware(row[column])
    return row


def save_pack_sensors(db: Engine, pack: str, found: Sequence[SensorMeta]) -> tuple[int, int]:
    """Store the pack's sensors and their trigger types in one transaction; remove the
    pack's sensors that are not in ``found`` (their files disappeared or became invalid).
    Returns (sensors written, sensors removed)."""
    stamp = now()
    with writing(db) as conn:
        for meta in found:
            for kind in meta.trigger_types:
                trigger_store.upsert_trigger_type(
                    conn, kind.ref, description=kind.description,
                    payload_schema=kind.payload_schema,
                    parameters_schema=kind.parameters_schema, tags=kind.tags,
                    metadata_file=meta.metadata_file)
            values = meta.row()
            old = conn.execute(select(sensors).where(sensors.c.ref == meta.ref)).first()
            if old is None:
                conn.execute(insert(sensors), {
                    "id": new_id(), **values, "created_at": stamp, "updated_at": stamp,
                    "claimed_by": None, "lease_until": None})
            elif any(getattr(old, name) != values[name] for name in _COMPARED):
                conn.execute(update(sensors).where(sensors.c.ref == meta.ref)
                             .values(**values, updated_at=stamp))
        kept = [m.ref for m in found]
        gone = conn.execute(delete(sensors).where(sensors.c.pack == pack,
                                                  sensors.c.ref.not_in(kept)))
    return len(found), int(gone.rowcount or 0)


def _filters(pack: str | None, name: str | None,
             enabled: bool | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if pack:
        conditions.append(sensors.c.pack == pack)
    if name:
        conditions.append(sensors.c.name == name)
    if enabled is not None:
        conditions.append(sensors.c.enabled.is_(enabled))
    return conditions


def list_sensors(db: Engine, pack: str | None = None, name: str | None = None,
                 enabled: bool | None = None, limit: int | None = None,
                 offset: int = 0) -> tuple[list[Row], int]:
    """Sensors sorted by pack and name (as StackStorm sorts them); the page and the total."""
    conditions = _filters(pack, name, enabled)
    query = select(sensors).where(*conditions).order_by(
        sensors.c.pack, sensors.c.name).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with reading(db) as conn:
        rows = [_row(r) for r in conn.execute(query)]
        total = conn.execute(select(func.count()).select_from(sensors)
                             .where(*conditions)).scalar_one()
    return rows, int(total)


def get_sensor(db: Engine, ref_or_id: str) -> Row | None:
    with reading(db) as conn:
        found = conn.execute(select(sensors).where(
            or_(sensors.c.ref == ref_or_id, sensors.c.id == ref_or_id))).first()
    return _row(found) if found is not None else None


def set_enabled(db: Engine, sensor_id: str, enabled: bool) -> Row | None:
    """Enable or disable a sensor (its container notices at its next lease renewal). A
    sensor already so is left as it is: a changed row restarts a running sensor."""
    with writing(db) as conn:
        conn.execute(update(sensors)
                     .where(sensors.c.id == sensor_id, sensors.c.enabled.is_not(enabled))
                     .values(enabled=enabled, updated_at=now()))
        found = conn.execute(select(sensors).where(sensors.c.id == sensor_id)).first()
    return _row(found) if found is not None else None


def pack_paths(db: Engine, names: Sequence[str]) -> dict[str, str]:
    """The folders of the named packs, as registered."""
    if not names:
        return {}
    with reading(db) as conn:
        return {r.ref: r.path for r in conn.execute(
            select(packs.c.ref, packs.c.path).where(packs.c.ref.in_(list(names))))}


# --- leases --------------------------------------------------------------------------------


ROLE = "sensorcontainer"


def shares(db: Engine, alive_since: datetime) -> tuple[int, int]:
    """(sensor containers whose heartbeat is not older than ``alive_since``, enabled
    sensors): a container claims at most its share of them."""
    with reading(db) as conn:
        live = conn.execute(select(func.count()).select_from(processes).where(
            processes.c.role == ROLE, processes.c.heartbeat_at >= alive_since)).scalar_one()
        enabled = conn.execute(select(func.count()).select_from(sensors)
                               .where(sensors.c.enabled.is_(True))).scalar_one()
    return int(live), int(enabled)


def renew(db: Engine, owner: str, until: datetime) -> list[Row]:
    """Extend the leases of ``owner``'s sensors (and its heartbeat) and give them back
    (disabled ones included: the caller stops and releases those)."""
    with writing(db) as conn:
        conn.execute(update(processes).where(processes.c.id == owner)
                     .values(heartbeat_at=now()))
        conn.execute(update(sensors).where(sensors.c.claimed_by == owner)
                     .values(lease_until=until))
        return [_row(r) for r in conn.execute(
            select(sensors).where(sensors.c.claimed_by == owner))]


def claim(db: Engine, owner: str, until: datetime, at: datetime,
          limit: int | None = None) -> list[Row]:
    """Take enabled sensors that nobody holds (or whose lease passed), at most ``limit``;
    the sensors won. Each is one conditional update, so a sensor is won by one container
    whatever number try at once."""
    free = and_(sensors.c.enabled.is_(True),
                or_(sensors.c.claimed_by.is_(None), sensors.c.lease_until < at))
    query = select(sensors.c.id).where(free).order_by(sensors.c.pack, sensors.c.name)
    if limit is not None:
        query = query.limit(limit)
    with reading(db) as conn:
        candidates = [r.id for r in conn.execute(query)]
    won: list[Row] = []
    for sensor_id in candidates:
        with writing(db) as conn:
            done = conn.execute(update(sensors).where(sensors.c.id == sensor_id, free)
                                .values(claimed_by=owner, lease_until=until))
            if done.rowcount:
                row = conn.execute(select(sensors).where(sensors.c.id == sensor_id)).one()
                won.append(_row(row))
    return won


def release(db: Engine, owner: str, refs: Sequence[str] | None = None) -> int:
    """Give up ``owner``'s leases (of ``refs`` only, when given) so that another container
    takes them at once; how many."""
    condition = sensors.c.claimed_by == owner
    if refs is not None:
        if not refs:
            return 0
        condition = and_(condition, sensors.c.ref.in_(list(refs)))
    with writing(db) as conn:
        done = conn.execute(update(sensors).where(condition)
                            .values(claimed_by=None, lease_until=None))
    return int(done.rowcount or 0)


# --- what a running sensor needs -----------------------------------------------------------


def triggers_of_types(db: Engine, types: Sequence[str]) -> list[Row]:
    """The triggers (with parameters) of the given trigger types: a sensor's
    ``add_trigger`` / ``update_trigger`` / ``remove_trigger`` follow them."""
    if not types:
        return []
    with reading(db) as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(triggers.c.id, triggers.c.ref, triggers.c.pack, triggers.c.name,
                   triggers.c.type, triggers.c.parameters, triggers.c.description)
            .where(triggers.c.type.in_(list(types))).order_by(triggers.c.ref))]


def payload_schema(db: Engine, ref: str) -> dict[str, Any] | None:
    """The payload schema of the trigger named ``ref`` (a trigger type, or a trigger of a
    type); None when there is no such type."""
    with reading(db) as conn:
        kind = conn.execute(select(triggers.c.type).where(triggers.c.ref == ref)).first()
        type_ref = kind.type if kind is not None else ref
        found = conn.execute(select(trigger_types.c.payload_schema)
                             .where(trigger_types.c.ref == type_ref)).first()
    return dict(found.payload_schema or {}) if found is not None else None


def trigger_type_exists(db: Engine, ref: str) -> bool:
    with reading(db) as conn:
        return conn.execute(select(trigger_types.c.id)
                            .where(trigger_types.c.ref == ref)).first() is not None


def instances_of(db: Engine, trigger: str) -> list[Row]:
    """The recorded instances of ``trigger``, oldest first (for checks and tests)."""
    with reading(db) as conn:
        return [_instance(r) for r in conn.execute(
            select(trigger_instances).where(trigger_instances.c.trigger == trigger)
            .order_by(trigger_instances.c.occurrence_time, trigger_instances.c.id))]


def _instance(found: Any) -> Row:
    row = dict(found._mapping)
    row["occurrence_time"] = aware(row["occurrence_time"])
    row["lease_until"] = aware(row["lease_until"])
    return row
