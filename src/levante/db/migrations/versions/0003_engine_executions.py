"""Engine executions: workflow, task and action executions, the work queue, the outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "workflow_executions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("workflow_name", sa.String(255), nullable=False),
        sa.Column("workflow_namespace", sa.String(255), nullable=False),
        sa.Column("workflow_id", sa.String(36), nullable=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("state_info", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("output", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("runtime_context", sa.JSON(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("task_execution_id", sa.String(36), nullable=True),
        sa.Column("parent_execution_id", sa.String(36), nullable=True),
        sa.Column("root_execution_id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_workflow_executions"),
    )
    op.create_index(
        "ix_workflow_executions_root_execution_id", "workflow_executions", ["root_execution_id"]
    )
    op.create_index(
        "ix_workflow_executions_task_execution_id", "workflow_executions", ["task_execution_id"]
    )
    op.create_index("ix_workflow_executions_state", "workflow_executions", ["state"])
    op.create_index("ix_workflow_executions_created_at", "workflow_executions", ["created_at"])

    op.create_table(
        "task_executions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("workflow_execution_id", sa.String(36), nullable=False),
        sa.Column("root_execution_id", sa.String(36), nullable=False),
        sa.Column("workflow_name", sa.String(255), nullable=False),
        sa.Column("workflow_namespace", sa.String(255), nullable=False),
        sa.Column("workflow_id", sa.String(36), nullable=True),
        sa.Column("type", sa.String(10), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("state_info", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("in_context", sa.JSON(), nullable=False),
        sa.Column("published", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("runtime_context", sa.JSON(), nullable=False),
        sa.Column("processed", sa.Boolean(), nullable=False),
        sa.Column("has_next_tasks", sa.Boolean(), nullable=False),
        sa.Column("error_handled", sa.Boolean(), nullable=False),
        sa.Column("unique_key", sa.String(255), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("project_id", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_task_executions"),
        sa.ForeignKeyConstraint(
            ["workflow_execution_id"],
            ["workflow_executions.id"],
            name="fk_task_executions_workflow_execution_id_workflow_executions",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_task_executions_workflow_execution_id", "task_executions", ["workflow_execution_id"]
    )
    op.create_index("ix_task_executions_state", "task_executions", ["state"])

    op.create_table(
        "action_executions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("workflow_name", sa.String(255), nullable=True),
        sa.Column("workflow_namespace", sa.String(255), nullable=True),
        sa.Column("task_execution_id", sa.String(36), nullable=True),
        sa.Column("workflow_execution_id", sa.String(36), nullable=True),
        sa.Column("root_execution_id", sa.String(36), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("state_info", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("runtime_context", sa.JSON(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("is_sync", sa.Boolean(), nullable=False),
        sa.Column("last_heartbeat", sa.DateTime(timezone=True), nullable=True),
        sa.Column("project_id", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_action_executions"),
        sa.ForeignKeyConstraint(
            ["task_execution_id"],
            ["task_executions.id"],
            name="fk_action_executions_task_execution_id_task_executions",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_action_executions_task_execution_id", "action_executions", ["task_execution_id"]
    )
    op.create_index("ix_action_executions_created_at", "action_executions", ["created_at"])

    op.create_table(
        "engine_jobs",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("root_execution_id", sa.String(36), nullable=False),
        sa.Column("execution_id", sa.String(36), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(36), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_engine_jobs"),
    )
    op.create_index("ix_engine_jobs_run_at", "engine_jobs", ["run_at"])
    op.create_index("ix_engine_jobs_claimed_by", "engine_jobs", ["claimed_by"])
    op.create_index("ix_engine_jobs_execution_id", "engine_jobs", ["execution_id"])

    op.create_table(
        "engine_events",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("execution_id", sa.String(36), nullable=False),
        sa.Column("root_execution_id", sa.String(36), nullable=False),
        sa.Column("task_execution_id", sa.String(36), nullable=True),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_engine_events"),
    )
    op.create_index(
        "ix_engine_events_delivered_at_next_attempt_at",
        "engine_events",
        ["delivered_at", "next_attempt_at"],
    )
    op.create_index("ix_engine_events_execution_id", "engine_events", ["execution_id"])


def downgrade() -> None:
    op.drop_index("ix_engine_events_execution_id", table_name="engine_events")
    op.drop_index("ix_engine_events_delivered_at_next_attempt_at", table_name="engine_events")
    op.drop_table("engine_events")
    op.drop_index("ix_engine_jobs_execution_id", table_name="engine_jobs")
    op.drop_index("ix_engine_jobs_claimed_by", table_name="engine_jobs")
    op.drop_index("ix_engine_jobs_run_at", table_name="engine_jobs")
    op.drop_table("engine_jobs")
    op.drop_index("ix_action_executions_created_at", table_name="action_executions")
    op.drop_index("ix_action_executions_task_execution_id", table_name="action_executions")
    op.drop_table("action_executions")
    op.drop_index("ix_task_executions_state", table_name="task_executions")
    op.drop_index("ix_task_executions_workflow_execution_id", table_name="task_executions")
    op.drop_table("task_executions")
    op.drop_index("ix_workflow_executions_created_at", table_name="workflow_executions")
    op.drop_index("ix_workflow_executions_state", table_name="workflow_executions")
    op.drop_index("ix_workflow_executions_task_execution_id", table_name="workflow_executions")
    op.drop_index("ix_workflow_executions_root_execution_id", table_name="workflow_executions")
    op.drop_table("workflow_executions")
