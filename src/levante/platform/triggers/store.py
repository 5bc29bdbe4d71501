"""The SQL of trigger instances that every emitter shares (webhooks, timers, sensors, the
action and notify triggers, the datastore's key-value triggers).

:func:`record_instance` writes one instance on the caller's connection, inside the
caller's transaction: an event is committed together with what caused it, or not at all.
The rules engine's claims, the listings and the trigger types' and triggers' SQL live
here too as the feature grows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from levante.db.connect import writing
from levante.db.times import now
from levante.identity.keys import new_id
from levante.platform.triggers.tables import trigger_instances, trigger_types, triggers

PENDING = "pending"
PROCESSING = "processing"
PROCESSED = "processed"
PROCESSING_FAILED = "processing_failed"
STATUSES = (PENDING, PROCESSING, PROCESSED, PROCESSING_FAILED)

_INSERT = insert(trigger_instances)


def record_instance(conn: Connection, trigger: str, payload: Any, *,
                    occurrence_time: datetime | None = None,
                    payload_from: str | None = None) -> str:
    """Write one ``pending`` instance of ``trigger`` (a trigger ref) on ``conn``; its id."""
    instance_id = new_id()
    conn.execute(_INSERT, {
        "id": instance_id, "trigger": trigger, "payload": payload,
        "occurrence_time": occurrence_time or now(), "status": PENDING,
        "payload_from": payload_from, "claimed_by": None, "lease_until": None,
    })
    return instance_id


def dispatch(db: Engine, trigger: str, payload: Any) -> str:
    """Record one instance of ``trigger`` in a transaction of its own; its id."""
    with writing(db) as conn:
        return record_instance(conn, trigger, payload)


def ensure_trigger(conn: Connection, type_ref: str, parameters: dict[str, Any] | None,
                   description: str = "") -> str:
    """The ref of the trigger of ``type_ref`` with ``parameters``, created if none exists.

    As StackStorm's: a type without parameters is its own trigger (same ref); a type with
    parameters gets one trigger per distinct set, named by a UUID in the type's pack, and
    every rule with the same type and parameters shares it.
    """
    params = dict(parameters or {})
    pack, _, name = type_ref.rpartition(".")
    if params:
        for row in conn.execute(select(triggers.c.ref, triggers.c.parameters)
                                .where(triggers.c.type == type_ref)):
            if row.parameters == params:
                return str(row.ref)
        name = str(uuid.uuid4())
    ref = f"{pack}.{name}"
    if conn.execute(select(triggers.c.ref).where(triggers.c.ref == ref)).first() is None:
        conn.execute(insert(triggers), {
            "id": new_id(), "ref": ref, "pack": pack, "name": name, "type": type_ref,
            "parameters": params, "description": description, "created_at": now(),
        })
    return ref


def upsert_trigger_type(conn: Connection, ref: str, *, description: str = "",
                        payload_schema: dict[str, Any] | None = None,
                        parameters_schema: dict[str, Any] | None = None,
                        tags: list[Any] | None = None, metadata_file: str = "") -> str:
    """Create or update the trigger type ``ref`` (``pack.name``); its id. Used for the
    built-in types and for the types a pack declares (its sensors' ``trigger_types``)."""
    pack, _, name = ref.rpartition(".")
    stamp = now()
    values = {"description": description, "payload_schema": payload_schema or {},
              "parameters_schema": parameters_schema or {}, "tags": tags or [],
              "metadata_file": metadata_file, "updated_at": stamp}
    found = conn.execute(select(trigger_types.c.id).where(trigger_types.c.ref == ref)).first()
    if found is not None:
        conn.execute(update(trigger_types).where(trigger_types.c.ref == ref).values(**values))
        return str(found.id)
    type_id = new_id()
    conn.execute(insert(trigger_types), {"id": type_id, "ref": ref, "pack": pack,
                                         "name": name, "created_at": stamp, **values})
    return type_id
