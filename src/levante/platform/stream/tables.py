"""``stream_changes``: which executions changed, in commit order (read on SQLite only).

PostgreSQL carries the same news by ``NOTIFY``; there the table stays empty. Rows are
pruned after :data:`KEEP_SECONDS` by the writers themselves.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, String, Table

from levante.db.metadata import metadata

stream_changes = Table(
    "stream_changes",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("op", String(16), nullable=False),  # create | update | output
    Column("execution_id", String(24), nullable=False),
    Column("first_seq", Integer, nullable=True),  # output: the first new line
    Column("at", Float, nullable=False),  # seconds since the epoch
)
