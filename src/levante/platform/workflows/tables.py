"""The platform's tables of the handshake (migration 0005 creates them).

`workflow_links`: platform execution <-> engine workflow execution, with the last event
applied (for idempotency and the silence safety net). `tracked_executions`: entries of
the results tracker. The reports to the engine are rows of the contract's `outbox`
(`levante.contract.tables`, route ``reports``): one row per message the engine must
receive, the end of a child execution that a workflow task started
(``PUT /v2/action_executions/<id>``), or a status change asked of a workflow execution on
the platform (``PUT /v2/executions/<id>``: cancel, pause, resume), written in the
transaction of the status change that caused it and sent until the engine acknowledges
it, so no report is lost when the engine is down or slow.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    String,
    Table,
    Text,
)

from levante.db.metadata import metadata


def _big_id() -> BigInteger:
    return BigInteger().with_variant(Integer, "sqlite")


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

WORKFLOW_TABLES = (workflow_links, tracked_executions)
