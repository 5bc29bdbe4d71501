"""All the SQL of inquiries. An inquiry's status is its execution's: the reads join the
``executions`` table; the changes of status go through the platform's store (its
compare-and-set, and the reports to the engine in the same transaction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from levante.db.connect import writing
from levante.platform.core.models import executions as ex
from levante.platform.inquiries.tables import inquiries as iq

Row = dict[str, Any]

_JOINED = (
    select(iq, ex.c.status, ex.c.result, ex.c.parent, ex.c.user.label("asked_by"),
           ex.c.log, ex.c.runner)
    .select_from(iq.join(ex, ex.c.id == iq.c.id))
)


def insert_inquiry(db: Engine, row: Row) -> None:
    with writing(db) as conn:
        conn.execute(insert(iq), row)


def get_inquiry(db: Engine, inquiry_id: str) -> Row | None:
    """The inquiry with its execution's status, result, parent and log; None if unknown."""
    with db.connect() as conn:
        found = conn.execute(_JOINED.where(iq.c.id == inquiry_id)).first()
    return dict(found._mapping) if found is not None else None


def list_pending(db: Engine, limit: int | None, offset: int = 0) -> tuple[list[Row], int]:
    """Inquiries still waiting for an answer, newest first, and how many there are.

    Read from the executions' status index (few are pending), not from the inquiries in
    order: answered inquiries pile up with history, pending ones do not. An inquiry is
    asked as its execution starts, so the order is the inquiries' too."""
    waiting = _JOINED.where(ex.c.status == "pending")
    query = waiting.order_by(ex.c.start_timestamp.desc(), ex.c.id.desc()).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with db.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
        total = conn.execute(
            select(func.count()).select_from(iq.join(ex, ex.c.id == iq.c.id))
            .where(ex.c.status == "pending")
        ).scalar()
    return rows, int(total or 0)


def pending(db: Engine) -> list[Row]:
    """The waiting inquiries: id, ttl, created_at, root and the root's status (None
    without a root)."""
    root = ex.alias("root_execution")
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(iq.c.id, iq.c.ttl, iq.c.created_at, iq.c.root,
                   root.c.status.label("root_status"))
            .select_from(iq.join(ex, ex.c.id == iq.c.id)
                         .outerjoin(root, root.c.id == iq.c.root))
            .where(ex.c.status == "pending")
        )]


def record_response(db: Engine, inquiry_id: str, response: Any, user: str,
                    stamp: datetime) -> None:
    with writing(db) as conn:
        conn.execute(update(iq).where(iq.c.id == inquiry_id)
                     .values(response=response, responded_by=user, responded_at=stamp))
