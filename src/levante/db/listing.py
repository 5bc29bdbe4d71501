"""The total of a listing, counted without reading a whole table.

A listing answers a page and how many rows match its filter. Counting every match of a
large table costs as much as reading it, so the count stops at `COUNT_CAP` or just past the
page asked for, whichever is further: a client paging forward always learns there is more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select

COUNT_CAP = 1_000


def capped_count(conn: Connection, id_column: Any, where: Sequence[Any], limit: int | None,
                 offset: int, cap: int = COUNT_CAP) -> int:
    """How many rows match ``where`` (counted on ``id_column``), up to ``cap`` or just past
    the page (``offset``, ``limit``)."""
    bound = max(cap, offset + (limit or 0) + 1)
    matches = select(id_column).where(*where).limit(bound).subquery()
    return int(conn.execute(select(func.count()).select_from(matches)).scalar_one())
