"""The one outbox of the handshake (migration 0015 creates it; every database has it).

`outbox`: one row per message one service owes the other, written in the transaction of
the change that calls for it and sent until answered. ``route`` says which way it goes
(``events``: the engine's events to a subscriber, one row per event and subscriber;
``reports``: the platform's reports to the engine), so that in one shared database each
service's delivery loop claims only its own rows. ``line`` orders them: a message is sent
only when no earlier pending message of its route has the same line (events: one line per
execution tree and subscriber URL; reports: one per engine object).
"""

from __future__ import annotations

from typing import Final

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

EVENTS: Final = "events"
REPORTS: Final = "reports"


def _big_id() -> BigInteger:
    return BigInteger().with_variant(Integer, "sqlite")


outbox = Table(
    "outbox",
    metadata,
    Column("id", _big_id(), primary_key=True, autoincrement=True),
    # events (engine -> subscriber) or reports (platform -> engine).
    Column("route", String(16), nullable=False),
    # events: the subscriber (levante, webhook); reports: action or workflow.
    Column("kind", String(16), nullable=False),
    # Messages of one line are sent in order (events: "<root> <url>"; reports: target_id).
    Column("line", Text, nullable=False),
    # events: the engine's workflow execution; reports: the platform's execution whose
    # status change caused the report.
    Column("execution_id", String(36), nullable=False),
    Column("root_execution_id", String(36), nullable=True),  # events
    Column("task_execution_id", String(36), nullable=True),  # events
    Column("event_id", _big_id(), nullable=True),  # events: the engine_events row
    Column("event", String(32), nullable=True),  # events
    Column("target_id", String(36), nullable=True),  # reports: the engine object
    Column("url", Text, nullable=False),
    Column("headers", JSON, nullable=True),  # events: the subscriber's headers
    Column("body", JSON, nullable=True),  # reports (an event's body is built when sent)
    # pending, then by route: delivered / failed (events, given up after [notifier]
    # max_retry_age), acknowledged / rejected (reports, refused for good).
    Column("state", String(16), nullable=False),
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
    Index("ix_outbox_route_state_next_attempt_at", "route", "state", "next_attempt_at"),
    Index("ix_outbox_route_line_state", "route", "line", "state"),
    Index("ix_outbox_root_execution_id_state", "root_execution_id", "state"),
    Index("ix_outbox_event_id", "event_id"),
    Index("ix_outbox_execution_id", "execution_id"),
)

OUTBOX_TABLES = (outbox,)
