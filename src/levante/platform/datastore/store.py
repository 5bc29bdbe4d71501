"""Every SQL statement on the datastore's table (``kv_pairs``).

Reads never write (an expression of the engine may read a key while its own transaction
is open): an expired key is filtered out, and deleted by the next write (``sweep``).
A put or a delete records StackStorm's key-value trigger instances in its transaction
(an expiry records none, as StackStorm's TTL records none).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from levante.db.connect import writing
from levante.db.times import aware
from levante.identity.keys import new_id
from levante.platform.datastore.tables import kv_pairs
from levante.platform.datastore.views import masked_view
from levante.platform.triggers.builtin import KV_CREATE, KV_DELETE, KV_UPDATE, KV_VALUE_CHANGE
from levante.platform.triggers.store import record_instance

Row = dict[str, Any]


def _live(now: datetime) -> ColumnElement[bool]:
    return or_(kv_pairs.c.expires_at.is_(None), kv_pairs.c.expires_at > now)


def _row(found: Any) -> Row:
    row = dict(found._mapping)
    for column in ("created_at", "updated_at", "expires_at"):
        row[column] = aware(row[column])
    return row


def sweep(engine: Engine, now: datetime) -> int:
    """Delete the keys past their expiry; how many."""
    with writing(engine) as conn:
        done = conn.execute(delete(kv_pairs).where(kv_pairs.c.expires_at <= now))
    return int(done.rowcount or 0)


def put(engine: Engine, scope: str, owner: str, name: str, value: str, secret: bool,
        expires_at: datetime | None, now: datetime) -> Row:
    """Create or replace a key (and delete the expired ones); the stored row."""
    where = and_(kv_pairs.c.scope == scope, kv_pairs.c.owner == owner,
                 kv_pairs.c.name == name)
    values = {"value": value, "secret": secret, "expires_at": expires_at, "updated_at": now}
    for attempt in range(2):
        try:
            with writing(engine) as conn:
                conn.execute(delete(kv_pairs).where(kv_pairs.c.expires_at <= now))
                old = conn.execute(select(kv_pairs).where(where)).first()
                if old is not None:
                    conn.execute(update(kv_pairs).where(where).values(**values))
                else:
                    conn.execute(insert(kv_pairs).values(
                        id=new_id(), scope=scope, owner=owner, name=name, created_at=now,
                        **values))
                found = _row(conn.execute(select(kv_pairs).where(where)).one())
                _record_put(conn, _row(old) if old is not None else None, found)
            return found
        except IntegrityError:  # created meanwhile by another writer: replace it
            if attempt:
                raise
    raise AssertionError("unreachable")


def get(engine: Engine, scope: str, owner: str, name: str, now: datetime) -> Row | None:
    with engine.connect() as conn:
        found = conn.execute(select(kv_pairs).where(
            kv_pairs.c.scope == scope, kv_pairs.c.owner == owner, kv_pairs.c.name == name,
            _live(now))).first()
    return _row(found) if found is not None else None


def list_pairs(engine: Engine, owners: Sequence[tuple[str, str | None]], prefix: str | None,
               limit: int | None, offset: int, now: datetime) -> tuple[list[Row], int]:
    """Live keys of the given (scope, owner) pairs (owner None: every owner), sorted by
    scope, owner and name; the page asked for and the total."""
    if not owners:
        return [], 0
    chosen = or_(*(kv_pairs.c.scope == scope if owner is None
                   else and_(kv_pairs.c.scope == scope, kv_pairs.c.owner == owner)
                   for scope, owner in owners))
    conditions: list[ColumnElement[bool]] = [chosen, _live(now)]
    if prefix:
        conditions.append(kv_pairs.c.name.startswith(prefix, autoescape=True))
    query = select(kv_pairs).where(*conditions).order_by(
        kv_pairs.c.scope, kv_pairs.c.owner, kv_pairs.c.name).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        rows = [_row(r) for r in conn.execute(query)]
        total = conn.execute(select(func.count()).select_from(kv_pairs)
                             .where(*conditions)).scalar_one()
    return rows, int(total)


def delete_pair(engine: Engine, scope: str, owner: str, name: str, now: datetime) -> bool:
    """Delete a live key; False when there is none."""
    where = and_(kv_pairs.c.scope == scope, kv_pairs.c.owner == owner,
                 kv_pairs.c.name == name, _live(now))
    with writing(engine) as conn:
        old = conn.execute(select(kv_pairs).where(where)).first()
        done = conn.execute(delete(kv_pairs).where(where))
        if done.rowcount and old is not None:
            record_instance(conn, KV_DELETE, {"object": masked_view(_row(old))})
        conn.execute(delete(kv_pairs).where(kv_pairs.c.expires_at <= now))
    return bool(done.rowcount)


def _record_put(conn: Connection, old: Row | None, new: Row) -> None:
    """StackStorm's key-value triggers of a write, in its transaction: ``create`` for a
    new key; ``update`` for a replaced one, and ``value_change`` when its value changed
    (a secret's values masked: its ciphertext changes at every write)."""
    shown = masked_view(new)
    if old is None:
        record_instance(conn, KV_CREATE, {"object": shown})
        return
    record_instance(conn, KV_UPDATE, {"object": shown})
    if old["value"] != new["value"]:
        record_instance(conn, KV_VALUE_CHANGE,
                        {"old_object": masked_view(old), "new_object": shown})
