"""Tables of the engine's runtime: executions, the durable work queue and the event outbox.

Columns follow Mistral's execution objects so the REST layer can encode Mistral's fields.
Definition tables (workbooks, workflows, ...) live in `levante.engine.definitions_models`,
imported here so that `levante.db.metadata.all_metadata()` sees the whole engine schema.

Every execution row carries `root_execution_id`: all work of one tree of workflow
executions (a workflow and its sub-workflows) is serialised on the root's row.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from levante.db.metadata import metadata
from levante.engine import definitions_models  # noqa: F401  (registers definition tables)

workflow_executions = Table(
    "workflow_executions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False),
    Column("workflow_name", String(255), nullable=False),
    Column("workflow_namespace", String(255), nullable=False),
    Column("workflow_id", String(36), nullable=True),
    # The workflow graph (`languages.graph`, to_dict) frozen at start: later edits do not
    # change a run.
    Column("spec", JSON, nullable=False),
    Column("state", String(20), nullable=False),
    Column("state_info", Text, nullable=True),
    Column("tags", JSON, nullable=False),
    Column("params", JSON, nullable=False),
    Column("input", JSON, nullable=False),
    Column("output", JSON, nullable=False),
    # Workflow variables: input + vars + global publishes.
    Column("context", JSON, nullable=False),
    Column("runtime_context", JSON, nullable=False),
    Column("accepted", Boolean, nullable=False),
    # Set for a sub-workflow: the task of the parent that runs it.
    Column("task_execution_id", String(36), nullable=True),
    Column("parent_execution_id", String(36), nullable=True),
    Column("root_execution_id", String(36), nullable=False),
    Column("project_id", String(80), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Index("ix_workflow_executions_root_execution_id", "root_execution_id"),
    Index("ix_workflow_executions_task_execution_id", "task_execution_id"),
    # Listings filter on state and page newest or oldest first by created_at, id (0010).
    Index("ix_workflow_executions_state_created_at_id", "state", "created_at", "id"),
    Index("ix_workflow_executions_created_at_id", "created_at", "id"),
)

task_executions = Table(
    "task_executions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column(
        "workflow_execution_id",
        String(36),
        ForeignKey("workflow_executions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("root_execution_id", String(36), nullable=False),
    Column("workflow_name", String(255), nullable=False),
    Column("workflow_namespace", String(255), nullable=False),
    Column("workflow_id", String(36), nullable=True),
    # ACTION or WORKFLOW, as Mistral.
    Column("type", String(10), nullable=False),
    Column("state", String(20), nullable=False),
    Column("state_info", Text, nullable=True),
    Column("tags", JSON, nullable=False),
    Column("in_context", JSON, nullable=False),
    Column("published", JSON, nullable=False),
    Column("result", JSON, nullable=True),
    # with-items bookkeeping, retry counters, the transitions that started it...
    Column("runtime_context", JSON, nullable=False),
    Column("processed", Boolean, nullable=False),
    Column("has_next_tasks", Boolean, nullable=False),
    Column("error_handled", Boolean, nullable=False),
    Column("unique_key", String(255), nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("project_id", String(80), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Index("ix_task_executions_workflow_execution_id", "workflow_execution_id"),
    Index("ix_task_executions_state_created_at_id", "state", "created_at", "id"),
    Index("ix_task_executions_created_at_id", "created_at", "id"),
)

action_executions = Table(
    "action_executions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False),
    Column("workflow_name", String(255), nullable=True),
    Column("workflow_namespace", String(255), nullable=True),
    Column(
        "task_execution_id",
        String(36),
        ForeignKey("task_executions.id", ondelete="CASCADE"),
        nullable=True,
    ),
    Column("workflow_execution_id", String(36), nullable=True),
    Column("root_execution_id", String(36), nullable=True),
    Column("state", String(20), nullable=False),
    Column("state_info", Text, nullable=True),
    Column("tags", JSON, nullable=False),
    Column("input", JSON, nullable=False),
    Column("output", JSON, nullable=True),
    # index (with-items item), attempt, whether `run` was entered (safe-rerun), ...
    Column("runtime_context", JSON, nullable=False),
    Column("accepted", Boolean, nullable=False),
    Column("is_sync", Boolean, nullable=False),
    Column("last_heartbeat", DateTime(timezone=True), nullable=True),
    Column("project_id", String(80), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Index("ix_action_executions_task_execution_id", "task_execution_id"),
    Index("ix_action_executions_created_at_id", "created_at", "id"),
)

# The durable work queue. A job is due at `run_at`; it is taken by deleting it inside the
# step's transaction (kind "step"), or by a lease (`claimed_by`, `lease_until`) when its
# work happens outside a transaction (kind "action").
engine_jobs = Table(
    "engine_jobs",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("root_execution_id", String(36), nullable=False),
    Column("execution_id", String(36), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("run_at", DateTime(timezone=True), nullable=False),
    Column("claimed_by", String(36), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_engine_jobs_run_at", "run_at"),
    Index("ix_engine_jobs_claimed_by", "claimed_by"),
    Index("ix_engine_jobs_execution_id", "execution_id"),
)

# The outbox: events written in the same transaction as the state change behind them.
engine_events = Table(
    "engine_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("execution_id", String(36), nullable=False),
    Column("root_execution_id", String(36), nullable=False),
    Column("task_execution_id", String(36), nullable=True),
    Column("event", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_engine_events_delivered_at_next_attempt_at", "delivered_at", "next_attempt_at"),
    Index("ix_engine_events_execution_id", "execution_id"),
)

EXECUTION_TABLES = (
    workflow_executions,
    task_executions,
    action_executions,
    engine_jobs,
    engine_events,
)
