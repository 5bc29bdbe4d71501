"""The ``inquiries`` table: what an ask asked (one row per inquiry, keyed by the id of its
execution), who answered and when. Its status is its execution's (``pending`` while it
waits). Migration 0012 creates it."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text

from levante.db.metadata import metadata

inquiries = Table(
    "inquiries",
    metadata,
    Column("id", String(24), ForeignKey("executions.id", ondelete="CASCADE"),
           primary_key=True),
    Column("route", Text, nullable=False),
    Column("ttl", Integer, nullable=False),
    Column("users", JSON, nullable=False),
    Column("roles", JSON, nullable=False),
    Column("response_schema", JSON, nullable=False),
    # The workflow at the top of the ask's tree (None: asked outside any workflow): it is
    # paused while the inquiry waits and resumed once it is answered or timed out.
    Column("root", String(24), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("response", JSON, nullable=True),
    Column("responded_by", String(255), nullable=True),
    Column("responded_at", DateTime(timezone=True), nullable=True),
    Index("ix_inquiries_created_at", "created_at"),
)
