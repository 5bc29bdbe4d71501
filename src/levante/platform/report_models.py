"""The platform's outbox of reports to the engine (migration 0006 creates it).

One row per message the engine must receive: the end of a child execution that a workflow
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

engine_reports = Table(
    "engine_reports",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
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

REPORT_TABLES = (engine_reports,)
