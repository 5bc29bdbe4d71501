"""Every SQL statement of the pack configs feature: save, list and get a pack's config."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from levante.db.connect import writing
from levante.db.times import now
from levante.identity.keys import new_id
from levante.platform.configs.tables import pack_configs
from levante.platform.core.store import Row, reading


def save_pack_config(
    engine: Engine, pack: str, schema: dict[str, Any] | None, values: dict[str, Any] | None,
    config_file: str | None,
) -> None:
    """Store (or, with neither schema nor values, forget) a pack's config."""
    stamp = now()
    with writing(engine) as conn:
        if schema is None and values is None:
            conn.execute(delete(pack_configs).where(pack_configs.c.pack == pack))
            return
        fields = {"config_schema": schema, "config_values": values,
                  "config_file": config_file, "registered_at": stamp}
        done = conn.execute(
            update(pack_configs).where(pack_configs.c.pack == pack).values(**fields)
        ).rowcount
        if not done:
            conn.execute(insert(pack_configs).values(pack=pack, id=new_id(), **fields))


def list_pack_configs(engine: Engine) -> list[Row]:
    with reading(engine) as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(pack_configs).order_by(pack_configs.c.pack))]


def get_pack_config(engine: Engine, pack: str) -> Row | None:
    with reading(engine) as conn:
        row = conn.execute(select(pack_configs).where(pack_configs.c.pack == pack)).first()
    return dict(row._mapping) if row else None
