"""The SQL of trigger instances that every emitter shares (webhooks, timers, sensors, the
action and notify triggers, the datastore's key-value triggers).

:func:`record_instance` writes one instance on the caller's connection, inside the
caller's transaction: an event is committed together with what caused it, or not at all.
The rules engine's claims, the listings and the trigger types' and triggers' SQL live
here too as the feature grows, and the reads of the executions that the action and
notify triggers' instances are recorded from and completed with
(:mod:`.execution_ends`, :mod:`.execution_payloads`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from levante.db.connect import after_commit, autocommit, reading, writing
from levante.db.listing import capped_count
from levante.db.local import local_of
from levante.db.times import aware, now
from levante.identity.keys import new_id
from levante.platform.core.models import executions
from levante.platform.rules.tables import rules
from levante.platform.triggers.tables import trigger_instances, trigger_types, triggers

log = logging.getLogger("levante.platform.triggers")

PENDING = "pending"
PROCESSING = "processing"
PROCESSED = "processed"
PROCESSING_FAILED = "processing_failed"
STATUSES = (PENDING, PROCESSING, PROCESSED, PROCESSING_FAILED)

Row = dict[str, Any]

_INSERT = insert(trigger_instances)
# An enabled rule of a trigger (served by the rules' trigger_ref index).
_RULES_OF = (select(rules.c.id)
             .where(rules.c.trigger_ref == bindparam("trigger"), rules.c.enabled.is_(True))
             .limit(1))


def record_instance(conn: Connection, trigger: str, payload: Any, *,
                    occurrence_time: datetime | None = None,
                    payload_from: str | None = None) -> str:
    """Write one instance of ``trigger`` (a trigger ref) on ``conn``; its id.

    It is ``pending`` when an enabled rule names the trigger, and the rules engines are
    woken once ``conn``'s transaction commits (when it is one of
    ``levante.db.connect.writing``, once per transaction; on another connection, call
    :func:`wake` after the commit, or they find it at their next poll). With no such rule
    it is ``processed`` at once, as a rules engine would have found it: the action trigger
    of every execution's end costs no rules engine two write transactions (on SQLite they
    queue behind the writer lock that the next task's work waits on). A rule created in
    the same instant may miss it, as it would miss an instance processed a moment before.
    """
    instance_id = new_id()
    status = PENDING if conn.execute(_RULES_OF, {"trigger": trigger}).first() else PROCESSED
    conn.execute(_INSERT, {
        "id": instance_id, "trigger": trigger, "payload": payload,
        "occurrence_time": occurrence_time or now(), "status": status,
        "payload_from": payload_from, "claimed_by": None, "lease_until": None,
    })
    if status == PROCESSED:
        return instance_id
    after_commit(conn, _Wake(conn.engine))  # (equal wakes: one per transaction)
    return instance_id


# --- waking the rules engines ---------------------------------------------------------------

NOTIFY_CHANNEL = "levante_triggers"
_NOTIFY = text(f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')")
BELL = "trigger-instances"  # on the engine's Local: the rules engines of this process


def add_waker(db: Engine, callback: Callable[[], None]) -> None:
    """Call ``callback()`` when this process committed instances to ``db``."""
    local_of(db).bell(BELL).add(callback)


def remove_waker(db: Engine, callback: Callable[[], None]) -> None:
    local_of(db).bell(BELL).remove(callback)


@dataclass(frozen=True)
class _Wake:
    """The wake-up of a transaction that recorded instances, run once it commits (two of
    one database are equal: after_commit keeps one)."""

    db: Engine

    def __call__(self) -> None:
        wake(self.db)


def wake(db: Engine) -> None:
    """Tell the rules engines that instances are pending: this process's at once, other
    processes' through PostgreSQL NOTIFY (SQLite: they poll). Never raises: the
    instances are committed, and the engines poll as well."""
    local_of(db).bell(BELL).ring()
    if db.dialect.name == "sqlite":
        return
    try:
        with autocommit(db).connect() as conn:  # (one round trip)
            conn.execute(_NOTIFY)
    except Exception as exc:
        log.warning("trigger instances stored, but the rules engines could not be woken "
                    "(%s): they find them at their next poll", type(exc).__name__)


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
    pack, _, name = type_ref.partition(".")  # StackStorm: the pack ends at the first dot
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
    built-in types (at every start of the API and the rules engine) and for the types a
    pack declares (its sensors' ``trigger_types``). A type stored as it is stays untouched
    (no write, ``updated_at`` kept)."""
    pack, _, name = ref.partition(".")
    values = {"description": description, "payload_schema": payload_schema or {},
              "parameters_schema": parameters_schema or {}, "tags": tags or [],
              "metadata_file": metadata_file}
    c = trigger_types.c
    found = conn.execute(select(c.id, *(c[k] for k in values)).where(c.ref == ref)).first()
    stamp = now()
    if found is not None:
        if any(getattr(found, k) != v for k, v in values.items()):
            conn.execute(update(trigger_types).where(c.ref == ref)
                         .values(**values, updated_at=stamp))
        return str(found.id)
    type_id = new_id()
    conn.execute(insert(trigger_types), {"id": type_id, "ref": ref, "pack": pack,
                                         "name": name, "created_at": stamp,
                                         "updated_at": stamp, **values})
    return type_id


# --- trigger types ------------------------------------------------------------------------

def _row(found: Any) -> Row:
    return dict(found._mapping)


def get_trigger_type(db: Engine, ref_or_id: str) -> Row | None:
    with reading(db) as conn:
        found = conn.execute(select(trigger_types).where(
            or_(trigger_types.c.ref == ref_or_id, trigger_types.c.id == ref_or_id))).first()
    return _row(found) if found is not None else None


def list_trigger_types(db: Engine, pack: str | None, name: str | None, limit: int | None,
                       offset: int) -> tuple[list[Row], int]:
    """Trigger types by ref, the page asked for and how many match."""
    where = [c for c in (trigger_types.c.pack == pack if pack else None,
                         trigger_types.c.name == name if name else None) if c is not None]
    query = select(trigger_types).where(*where).order_by(trigger_types.c.ref).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with reading(db) as conn:
        rows = [_row(r) for r in conn.execute(query)]
        total = conn.execute(select(func.count()).select_from(trigger_types)
                             .where(*where)).scalar_one()
    return rows, int(total)


def delete_trigger_type(db: Engine, type_id: str) -> None:
    """Delete a trigger type and its triggers."""
    with writing(db) as conn:
        ref = conn.execute(select(trigger_types.c.ref)
                           .where(trigger_types.c.id == type_id)).scalar_one_or_none()
        if ref is not None:
            conn.execute(delete(triggers).where(triggers.c.type == ref))
        conn.execute(delete(trigger_types).where(trigger_types.c.id == type_id))


# --- triggers -----------------------------------------------------------------------------

def get_trigger(db: Engine, ref_or_id: str) -> Row | None:
    with reading(db) as conn:
        found = conn.execute(select(triggers).where(
            or_(triggers.c.ref == ref_or_id, triggers.c.id == ref_or_id))).first()
    return _row(found) if found is not None else None


def list_triggers(db: Engine, type_ref: str | None, pack: str | None, limit: int | None,
                  offset: int) -> tuple[list[Row], int]:
    where = [c for c in (triggers.c.type == type_ref if type_ref else None,
                         triggers.c.pack == pack if pack else None) if c is not None]
    query = select(triggers).where(*where).order_by(triggers.c.ref).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with reading(db) as conn:
        rows = [_row(r) for r in conn.execute(query)]
        total = conn.execute(select(func.count()).select_from(triggers)
                             .where(*where)).scalar_one()
    return rows, int(total)


def create_trigger(db: Engine, ref: str, type_ref: str, parameters: dict[str, Any],
                   description: str) -> Row:
    """A trigger of a given ref (IntegrityError if it exists)."""
    pack, _, name = ref.partition(".")
    row = {"id": new_id(), "ref": ref, "pack": pack, "name": name, "type": type_ref,
           "parameters": parameters, "description": description, "created_at": now()}
    with writing(db) as conn:
        conn.execute(insert(triggers), row)
    return row


def update_trigger(db: Engine, trigger_id: str, parameters: dict[str, Any],
                   description: str) -> None:
    with writing(db) as conn:
        conn.execute(update(triggers).where(triggers.c.id == trigger_id)
                     .values(parameters=parameters, description=description))


def delete_trigger(db: Engine, trigger_id: str) -> None:
    with writing(db) as conn:
        conn.execute(delete(triggers).where(triggers.c.id == trigger_id))


def drop_unused_trigger(conn: Connection, ref: str, used: bool) -> None:
    """Delete the parameterized trigger ``ref`` when no rule uses it any more (``used``:
    the caller's finding); a type's own trigger (no parameters) stays."""
    if used:
        return
    conn.execute(delete(triggers).where(triggers.c.ref == ref, triggers.c.type != ref))


# --- trigger instances --------------------------------------------------------------------

def get_instance(db: Engine, instance_id: str) -> Row | None:
    with reading(db) as conn:
        found = conn.execute(select(trigger_instances)
                             .where(trigger_instances.c.id == instance_id)).first()
    return _row(found) if found is not None else None


def list_instances(db: Engine, trigger: str | None, status: str | None,
                   after: datetime | None, before: datetime | None, limit: int | None,
                   offset: int) -> tuple[list[Row], int]:
    """Instances, newest first; the page and how many match (`levante.db.listing`)."""
    where = [c for c in (
        trigger_instances.c.trigger == trigger if trigger else None,
        trigger_instances.c.status == status if status else None,
        trigger_instances.c.occurrence_time > after if after else None,
        trigger_instances.c.occurrence_time < before if before else None,
    ) if c is not None]
    query = (select(trigger_instances).where(*where)
             .order_by(trigger_instances.c.occurrence_time.desc(),
                       trigger_instances.c.id.desc()).offset(offset))
    if limit is not None:
        query = query.limit(limit)
    with reading(db) as conn:
        rows = [_row(r) for r in conn.execute(query)]
        total = capped_count(conn, trigger_instances.c.id, where, limit, offset)
    return rows, total


# The oldest pending first, or those whose claim ran out (their rules engine died).
def _claimable(stamp: datetime) -> Any:
    return or_(trigger_instances.c.status == PENDING,
               and_(trigger_instances.c.status == PROCESSING,
                    trigger_instances.c.lease_until < stamp))


def claim_instances(db: Engine, owner: str, limit: int, lease_seconds: float) -> list[Row]:
    """Claim up to ``limit`` instances for ``owner``: status ``processing``, with a lease.

    PostgreSQL: FOR UPDATE SKIP LOCKED, so any number of rules engines take disjoint
    batches; SQLite: one writer at a time does the same. An instance whose lease ran out
    (its engine died mid-batch) is claimed again; its enforcements already written are
    found then (unique per instance and rule), so nothing is enforced twice.
    """
    stamp = now()
    with reading(db) as conn:  # a read first: an idle poll takes no write lock
        if conn.execute(select(trigger_instances.c.id).where(_claimable(stamp))
                        .limit(1)).first() is None:
            return []
    pick = (select(trigger_instances.c.id).where(_claimable(stamp))
            .order_by(trigger_instances.c.occurrence_time, trigger_instances.c.id)
            .limit(limit))
    if db.dialect.name != "sqlite":
        pick = pick.with_for_update(skip_locked=True)
    picked = pick.cte("picked")
    # Pick, mark and read back in one statement (one round trip in the write transaction).
    claim = (update(trigger_instances).where(trigger_instances.c.id == picked.c.id)
             .values(status=PROCESSING, claimed_by=owner,
                     lease_until=stamp + timedelta(seconds=lease_seconds))
             .returning(*trigger_instances.c))
    with writing(db) as conn:
        rows = [_row(r) for r in conn.execute(claim)]
    rows.sort(key=lambda r: (aware(r["occurrence_time"]), r["id"]))
    return rows


def finish_instances(conn: Connection, owner: str, statuses: dict[str, str]) -> None:
    """End claimed instances (id -> processed | processing_failed), on ``conn``."""
    for status in set(statuses.values()):
        ids = [i for i, s in statuses.items() if s == status]
        conn.execute(update(trigger_instances)
                     .where(trigger_instances.c.id.in_(ids),
                            trigger_instances.c.status == PROCESSING)
                     .values(status=status, claimed_by=None, lease_until=None))


# --- the executions behind the action and notify triggers ----------------------------------

# What decides an execution's notify block (its action's, its request's, its parent's).
_NOTIFY_SOURCES = (
    select(executions.c.id, executions.c.action, executions.c.context, executions.c.parent,
           executions.c.parameters)
    .where(executions.c.id.in_(bindparam("ids", expanding=True))))
# What the payloads of the instances an execution's end recorded are completed from.
_PAYLOAD_SOURCES = (
    select(executions.c.id, executions.c.status, executions.c.action_ref,
           executions.c.action, executions.c.runner, executions.c.parameters,
           executions.c.context, executions.c.result, executions.c.user,
           executions.c.start_timestamp, executions.c.end_timestamp)
    .where(executions.c.id.in_(bindparam("ids", expanding=True))))


def notify_sources(conn: Connection, execution_ids: Iterable[str]) -> dict[str, Row]:
    """By id, the columns of `execution_ids` that decide their notify blocks (read in the
    ending's transaction, one statement per generation of parents)."""
    return {r.id: dict(r._mapping)
            for r in conn.execute(_NOTIFY_SOURCES, {"ids": list(execution_ids)})}


def payload_sources(conn: Connection, execution_ids: Iterable[str]) -> dict[str, Row]:
    """By id, the columns of `execution_ids` that action and notify trigger payloads are
    built from (one statement for a whole batch of instances)."""
    return {r.id: dict(r._mapping)
            for r in conn.execute(_PAYLOAD_SOURCES, {"ids": list(execution_ids)})}
