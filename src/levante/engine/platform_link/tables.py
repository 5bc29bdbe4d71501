"""The engine's table of deliveries to subscribers (migration 0005 creates it).

`event_deliveries`: one row per (outbox event, subscriber), so that each subscriber of an
event has its own attempts, backoff and acknowledgement.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from levante.db.metadata import metadata


def _big_id() -> BigInteger:
    return BigInteger().with_variant(Integer, "sqlite")


event_deliveries = Table(
    "event_deliveries",
    metadata,
    Column("id", _big_id(), primary_key=True, autoincrement=True),
    Column("event_id", _big_id(), nullable=False),
    Column("event", String(32), nullable=False),
    Column("execution_id", String(36), nullable=False),
    Column("root_execution_id", String(36), nullable=False),
    Column("task_execution_id", String(36), nullable=True),
    # levante (the platform's receiver) or webhook (Mistral's publisher, any receiver).
    Column("subscriber", String(16), nullable=False),
    Column("url", Text, nullable=False),
    Column("headers", JSON, nullable=False),
    # pending, delivered, failed (given up after [notifier] max_retry_age).
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # When pending: the next attempt is due (or the lease of an attempt in flight ends).
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("first_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_attempt_at", DateTime(timezone=True), nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_duration_ms", Integer, nullable=True),
    Index("ix_event_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
    Index("ix_event_deliveries_root_execution_id_state", "root_execution_id", "state"),
    Index("ix_event_deliveries_event_id", "event_id"),
)

DELIVERY_TABLES = (event_deliveries,)
