"""Every SQL statement of the timers: which timers run, where each resumes, firing a slot
(its ``timer_slots`` row and its trigger instance in one transaction, so that each slot
fires once across any number of processes), and the purge of old slots."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from levante.db.connect import reading, writing
from levante.db.times import aware, now
from levante.platform.rules.tables import rules
from levante.platform.timers.tables import timer_slots
from levante.platform.triggers.store import record_instance
from levante.platform.triggers.tables import triggers

Row = dict[str, Any]


def active_timers(engine: Engine, types: Sequence[str]) -> list[Row]:
    """The triggers of the timer ``types`` that some enabled rule uses, each with
    ``last_slot`` (its latest slot fired or skipped, None: none yet) and ``enabled_at``
    (the latest change of its enabled rules: slots before it are not due)."""
    # The latest slot of each timer, looked up on the slots' primary key (trigger, slot):
    # the table keeps every slot ever fired, and this runs every second.
    last = (select(func.max(timer_slots.c.slot_at))
            .where(timer_slots.c.trigger_ref == triggers.c.ref)
            .scalar_subquery().label("last"))
    used = (select(rules.c.trigger_ref, func.max(rules.c.updated_at).label("enabled_at"))
            .where(rules.c.enabled.is_(True)).group_by(rules.c.trigger_ref).subquery())
    query = (select(triggers.c.ref, triggers.c.type, triggers.c.parameters,
                    triggers.c.created_at, used.c.enabled_at, last)
             .join(used, used.c.trigger_ref == triggers.c.ref)
             .where(triggers.c.type.in_(list(types))))
    with reading(engine) as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        row["created_at"] = aware(row["created_at"])
        row["enabled_at"] = aware(row["enabled_at"])
        row["last_slot"] = aware(row.pop("last"))
    return rows


def timer_triggers(engine: Engine, types: Sequence[str],
                   ref_or_id: str | None = None) -> list[Row]:
    """The triggers of the timer ``types`` (``GET /v1/timers``), or the one of them that
    ``ref_or_id`` names."""
    query = select(triggers).where(triggers.c.type.in_(list(types)))
    if ref_or_id is not None:
        query = query.where(or_(triggers.c.ref == ref_or_id, triggers.c.id == ref_or_id))
    with reading(engine) as conn:
        return [dict(r._mapping) for r in conn.execute(
            query.order_by(triggers.c.type, triggers.c.ref))]


def _insert_slot(conn: Connection) -> Any:
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    return insert(timer_slots).on_conflict_do_nothing(
        index_elements=[timer_slots.c.trigger_ref, timer_slots.c.slot_at]
    ).returning(timer_slots.c.trigger_ref)


def fire_slot(engine: Engine, trigger_ref: str, slot_at: datetime,
              payload: Any | None) -> str | None:
    """Take the slot ``slot_at`` of ``trigger_ref`` and record its instance with
    ``payload`` (None: the slot is skipped, nothing recorded). The instance id; None when
    another process took the slot first, or when skipped."""
    with writing(engine) as conn:
        taken = conn.execute(_insert_slot(conn), {
            "trigger_ref": trigger_ref, "slot_at": slot_at, "instance_id": None,
            "fired_at": now()}).first()
        if taken is None or payload is None:
            return None
        instance_id = record_instance(conn, trigger_ref, payload)
        conn.execute(update(timer_slots).where(
            timer_slots.c.trigger_ref == trigger_ref, timer_slots.c.slot_at == slot_at)
            .values(instance_id=instance_id))
    return instance_id


def slots(engine: Engine, trigger_ref: str) -> list[Row]:
    """The slots of a timer, oldest first."""
    with reading(engine) as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(timer_slots).where(timer_slots.c.trigger_ref == trigger_ref)
            .order_by(timer_slots.c.slot_at))]


def purge_slots(engine: Engine, cutoff: datetime, batch: int) -> int:
    """Delete up to ``batch`` slots fired (or skipped) before ``cutoff``, never the latest
    slot of a timer (where its schedule resumes); how many went (0: none left)."""
    later = timer_slots.alias("later")
    superseded = (select(later.c.slot_at)
                  .where(later.c.trigger_ref == timer_slots.c.trigger_ref,
                         later.c.slot_at > timer_slots.c.slot_at)
                  .exists())
    with writing(engine) as conn:
        keys = [(r.trigger_ref, r.slot_at) for r in conn.execute(
            select(timer_slots.c.trigger_ref, timer_slots.c.slot_at)
            .where(timer_slots.c.fired_at < cutoff, superseded)
            .limit(batch))]
        if keys:
            conn.execute(delete(timer_slots).where(
                tuple_(timer_slots.c.trigger_ref, timer_slots.c.slot_at).in_(keys)))
    return len(keys)
