"""Every SQL statement on rules and rule enforcements.

A rule is saved with its trigger in one transaction (``ensure_trigger``: rules with the
same trigger type and parameters share one trigger). An enforcement is inserted with
``ON CONFLICT DO NOTHING`` on its unique (trigger instance, rule): the rules engine learns
whether it is the first, and only then stores the execution, in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from levante.db.connect import reading, writing
from levante.db.listing import capped_count
from levante.db.times import now
from levante.identity.keys import new_id
from levante.platform.rules.model import Rule
from levante.platform.rules.tables import rule_enforcements, rules
from levante.platform.triggers import store as trigger_store
from levante.platform.triggers.tables import trigger_instances

Row = dict[str, Any]


def _row(found: Any) -> Row:
    return dict(found._mapping)


def get_rule(db: Engine, ref_or_id: str) -> Row | None:
    with reading(db) as conn:
        found = conn.execute(select(rules).where(
            or_(rules.c.ref == ref_or_id, rules.c.id == ref_or_id))).first()
    return _row(found) if found is not None else None


def list_rules(db: Engine, *, pack: str | None = None, name: str | None = None,
               enabled: bool | None = None, trigger_type: str | None = None,
               action: str | None = None, limit: int | None = None,
               offset: int = 0) -> tuple[list[Row], int]:
    """Rules by ref; the page asked for and how many match."""
    where = [c for c in (
        rules.c.pack == pack if pack else None,
        rules.c.name == name if name else None,
        rules.c.enabled.is_(enabled) if enabled is not None else None,
    ) if c is not None]
    with reading(db) as conn:
        found = [_row(r) for r in conn.execute(select(rules).where(*where)
                                               .order_by(rules.c.ref))]
    # trigger type and action live in JSON: filtered here (rules are few)
    if trigger_type:
        found = [r for r in found if (r["trigger"] or {}).get("type") == trigger_type]
    if action:
        found = [r for r in found if (r["action"] or {}).get("ref") == action]
    page = found[offset:offset + limit] if limit is not None else found[offset:]
    return page, len(found)


def _values(rule: Rule, trigger_ref: str, stamp: datetime) -> Row:
    return {
        "ref": rule.ref, "pack": rule.pack, "name": rule.name,
        "description": rule.description, "enabled": rule.enabled,
        "trigger": {"type": rule.trigger_type, "parameters": rule.trigger_parameters,
                    "ref": trigger_ref},
        "trigger_ref": trigger_ref, "criteria": rule.criteria, "action": rule.action,
        "context": rule.context, "tags": rule.tags, "metadata_file": rule.metadata_file,
        "updated_at": stamp,
    }


def _drop_trigger_if_unused(conn: Connection, trigger_ref: str) -> None:
    used = conn.execute(select(rules.c.id).where(rules.c.trigger_ref == trigger_ref)
                        .limit(1)).first() is not None
    trigger_store.drop_unused_trigger(conn, trigger_ref, used)


def save_rule_on(conn: Connection, rule: Rule, rule_id: str | None = None) -> Row:
    """Create the rule (or replace rule ``rule_id``, or the rule of the same ref) with its
    trigger, on ``conn``; the stored row."""
    trigger_ref = trigger_store.ensure_trigger(conn, rule.trigger_type,
                                               rule.trigger_parameters)
    stamp = now()
    values = _values(rule, trigger_ref, stamp)
    where = rules.c.id == rule_id if rule_id else rules.c.ref == rule.ref
    old = conn.execute(select(rules.c.id, rules.c.trigger_ref).where(where)).first()
    if old is None:
        row = {"id": new_id(), "created_at": stamp, **values}
        conn.execute(insert(rules), row)
        return row
    conn.execute(update(rules).where(rules.c.id == old.id).values(**values))
    if old.trigger_ref != trigger_ref:
        _drop_trigger_if_unused(conn, old.trigger_ref)
    return _row(conn.execute(select(rules).where(rules.c.id == old.id)).one())


def save_rule(db: Engine, rule: Rule, rule_id: str | None = None) -> Row:
    with writing(db) as conn:
        return save_rule_on(conn, rule, rule_id)


def ref_taken(db: Engine, ref: str, other_than: str | None = None) -> bool:
    query = select(rules.c.id).where(rules.c.ref == ref)
    if other_than:
        query = query.where(rules.c.id != other_than)
    with reading(db) as conn:
        return conn.execute(query.limit(1)).first() is not None


def set_enabled(db: Engine, rule_id: str, enabled: bool) -> None:
    with writing(db) as conn:
        conn.execute(update(rules).where(rules.c.id == rule_id)
                     .values(enabled=enabled, updated_at=now()))


def delete_rule_on(conn: Connection, rule_id: str) -> None:
    found = conn.execute(select(rules.c.trigger_ref).where(rules.c.id == rule_id)).first()
    conn.execute(delete(rules).where(rules.c.id == rule_id))
    if found is not None:
        _drop_trigger_if_unused(conn, found.trigger_ref)


def delete_rule(db: Engine, rule_id: str) -> None:
    with writing(db) as conn:
        delete_rule_on(conn, rule_id)


def pack_rule_ids(conn: Connection, pack: str) -> dict[str, str]:
    """The rules of ``pack`` that came from its files: ref -> id."""
    return {r.ref: r.id for r in conn.execute(
        select(rules.c.ref, rules.c.id).where(rules.c.pack == pack,
                                              rules.c.metadata_file != ""))}


def enabled_rules(db: Engine) -> list[Row]:
    """Every enabled rule (the rules engine's cache)."""
    with reading(db) as conn:
        return [_row(r) for r in conn.execute(
            select(rules).where(rules.c.enabled.is_(True)).order_by(rules.c.ref))]


def rules_version(db: Engine) -> tuple[int, Any]:
    """Changes when a rule is created, changed or deleted: (count, latest change)."""
    with reading(db) as conn:
        found = conn.execute(select(func.count(), func.max(rules.c.updated_at))
                             .select_from(rules)).one()
    return int(found[0]), found[1]


# --- enforcements -------------------------------------------------------------------------

def _insert_enforcements(dialect: str) -> Any:
    maker = pg_insert if dialect == "postgresql" else sqlite_insert
    return maker(rule_enforcements).on_conflict_do_nothing(
        index_elements=["trigger_instance_id", "rule_id"]).returning(
        rule_enforcements.c.trigger_instance_id, rule_enforcements.c.rule_id)


# built once per dialect (SQLAlchemy then reuses their compiled form)
_INSERT_ENFORCEMENTS = {name: _insert_enforcements(name) for name in ("postgresql", "sqlite")}


def insert_enforcements(conn: Connection, rows: list[Row]) -> set[tuple[str, str]]:
    """Insert enforcements, skipping each (trigger instance, rule) that has one; the
    pairs inserted now (the caller then stores their executions, in the same
    transaction)."""
    if not rows:
        return set()
    statement = _INSERT_ENFORCEMENTS["postgresql" if conn.dialect.name == "postgresql"
                                     else "sqlite"]
    found = conn.execute(statement, rows) if len(rows) > 1 else conn.execute(
        statement, rows[0])
    return {(r.trigger_instance_id, r.rule_id) for r in found}


def get_enforcement(db: Engine, enforcement_id: str) -> Row | None:
    with reading(db) as conn:
        found = conn.execute(select(rule_enforcements)
                             .where(rule_enforcements.c.id == enforcement_id)).first()
    return _row(found) if found is not None else None


def list_enforcements(db: Engine, *, rule_ref: str | None = None,
                      rule_id: str | None = None, execution: str | None = None,
                      trigger_instance: str | None = None, after: datetime | None = None,
                      before: datetime | None = None, limit: int | None = None,
                      offset: int = 0) -> tuple[list[Row], int]:
    """Enforcements, newest first; the page and how many match (`levante.db.listing`)."""
    c = rule_enforcements.c
    where = [w for w in (
        c.rule_ref == rule_ref if rule_ref else None,
        c.rule_id == rule_id if rule_id else None,
        c.execution_id == execution if execution else None,
        c.trigger_instance_id == trigger_instance if trigger_instance else None,
        c.enforced_at > after if after else None,
        c.enforced_at < before if before else None,
    ) if w is not None]
    query = (select(rule_enforcements).where(*where)
             .order_by(c.enforced_at.desc(), c.id.desc()).offset(offset))
    if limit is not None:
        query = query.limit(limit)
    with reading(db) as conn:
        rows = [_row(r) for r in conn.execute(query)]
        total = capped_count(conn, c.id, where, limit, offset)
    return rows, total


def purge_instances(db: Engine, cutoff: datetime, batch: int) -> int:
    """Delete up to ``batch`` trigger instances processed (or failed) before ``cutoff``,
    with their enforcements; how many instances went (0: none left)."""
    ended = (trigger_store.PROCESSED, trigger_store.PROCESSING_FAILED)
    with writing(db) as conn:
        ids = [r.id for r in conn.execute(
            select(trigger_instances.c.id)
            .where(trigger_instances.c.status.in_(ended),
                   trigger_instances.c.occurrence_time < cutoff)
            .limit(batch))]
        if ids:
            conn.execute(delete(rule_enforcements)
                         .where(rule_enforcements.c.trigger_instance_id.in_(ids)))
            conn.execute(delete(trigger_instances).where(trigger_instances.c.id.in_(ids)))
    return len(ids)
