"""Every SQL statement on the identity tables (API keys and tokens)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, delete, insert, or_, select, update

from levante.db.connect import reading, writing
from levante.identity.tables import api_keys, tokens

Row = dict[str, Any]

def insert_api_key(engine: Engine, row: Row) -> None:
    with writing(engine) as conn:
        conn.execute(insert(api_keys).values(**row))


def list_api_keys(engine: Engine) -> list[Row]:
    with reading(engine) as conn:
        result = conn.execute(select(api_keys).order_by(api_keys.c.created_at))
        return [dict(r._mapping) for r in result]


def get_api_key(engine: Engine, id_or_hash: str) -> Row | None:
    with reading(engine) as conn:
        row = conn.execute(
            select(api_keys).where(
                or_(api_keys.c.id == id_or_hash, api_keys.c.key_hash == id_or_hash)
            )
        ).first()
    return dict(row._mapping) if row else None


def update_api_key(engine: Engine, key_id: str, values: Row) -> None:
    with writing(engine) as conn:
        conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(**values))


def delete_api_key(engine: Engine, key_id: str) -> bool:
    with writing(engine) as conn:
        return bool(conn.execute(delete(api_keys).where(api_keys.c.id == key_id)).rowcount)


def insert_token(engine: Engine, row: Row) -> None:
    with writing(engine) as conn:
        conn.execute(insert(tokens).values(**row))


def delete_token(engine: Engine, token_id: str) -> bool:
    with writing(engine) as conn:
        return bool(conn.execute(delete(tokens).where(tokens.c.id == token_id)).rowcount)


def get_token(engine: Engine, token_hash: str) -> Row | None:
    with reading(engine) as conn:
        row = conn.execute(select(tokens).where(tokens.c.token_hash == token_hash)).first()
    return dict(row._mapping) if row else None
