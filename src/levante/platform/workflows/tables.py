"""The platform's tables of the handshake (migrations 0005 and 0006 create them).

`workflow_links`: platform execution <-> engine workflow execution, with the last event
applied (for idempotency and the silence safety net). `tracked_executions`: entries of
the results tracker. `engine_reports`: the outbox of reports to the engine, one row per
message the engine must receive: the end of a child execution that a workflow
task started (``PUT /v2/action_executions/<id>``), or a status change asked of a workflow
execution on the platform (``PUT /v2/executions/<id>``: cancel, pause, resume). A row is
written in the transaction of the status change that caused it and is sent until the
engine acknowledges it, so no report is lost when the engine is down or slow.
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


engine_reports = Table(
    "engine_reports",
    metadata,
    Column("id", _big_id(), primary_key=True, autoincrement=True),
    # The platform execution whose status change caused the report.
    Column("execution_id", String(24), nullable=False),
    # action (PUT /v2/action_executions/<target_id>) or workflow (PUT /v2/executions/<id>).
    Column("kind", String(16), nullable=False),
    Column("target_id", String(36), nullable=False),
    # Where to send it; empty: the engine URL of the configuration + the usual path.
    Column("url", Text, nullable=False),
    Column("body", JSON, nullable=False),
    # pending, acknowledged (2xx, or the engine already had it), rejected (4xx: never sent
    # again; last_error says why).
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # When pending: the next attempt is due (or the lease of an attempt in flight ends).
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_attempt_at", DateTime(timezone=True), nullable=True),
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_engine_reports_state_next_attempt_at", "state", "next_attempt_at"),
    Index("ix_engine_reports_execution_id", "execution_id"),
)

workflow_links = Table(
    "workflow_links",
    metadata,
    Column("execution_id", String(24), primary_key=True),
    Column("workflow_execution_id", String(36), nullable=False, unique=True),
    # The engine's sequence of the last event applied (None: none yet, or Mistral's own).
    Column("last_seq", _big_id(), nullable=True),
    Column("last_event_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

tracked_executions = Table(
    "tracked_executions",
    metadata,
    Column("execution_id", String(24), primary_key=True),
    Column("workflow_execution_id", String(36), nullable=False),
    # manual (levante-track-result), silence (the safety net), launch.
    Column("reason", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_polled_at", DateTime(timezone=True), nullable=True),
    Column("errors", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
)

WORKFLOW_TABLES = (workflow_links, tracked_executions, engine_reports)
