"""Handshake: event deliveries (engine), workflow links and tracker entries (platform).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "event_deliveries",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("event_id", _big_id(), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("execution_id", sa.String(36), nullable=False),
        sa.Column("root_execution_id", sa.String(36), nullable=False),
        sa.Column("task_execution_id", sa.String(36), nullable=True),
        sa.Column("subscriber", sa.String(16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("next_attempt_at"),
        _ts("first_attempt_at", True),
        _ts("last_attempt_at", True),
        _ts("delivered_at", True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_duration_ms", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_event_deliveries"),
    )
    op.create_index(
        "ix_event_deliveries_state_next_attempt_at", "event_deliveries",
        ["state", "next_attempt_at"],
    )
    op.create_index(
        "ix_event_deliveries_root_execution_id_state", "event_deliveries",
        ["root_execution_id", "state"],
    )
    op.create_index("ix_event_deliveries_event_id", "event_deliveries", ["event_id"])
    op.create_table(
        "workflow_links",
        sa.Column("execution_id", sa.String(24), nullable=False),
        sa.Column("workflow_execution_id", sa.String(36), nullable=False),
        sa.Column("last_seq", _big_id(), nullable=True),
        _ts("last_event_at", True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("execution_id", name="pk_workflow_links"),
        sa.UniqueConstraint(
            "workflow_execution_id", name="uq_workflow_links_workflow_execution_id"
        ),
    )
    op.create_table(
        "tracked_executions",
        sa.Column("execution_id", sa.String(24), nullable=False),
        sa.Column("workflow_execution_id", sa.String(36), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        _ts("created_at"),
        _ts("last_polled_at", True),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("execution_id", name="pk_tracked_executions"),
    )


def downgrade() -> None:
    op.drop_table("tracked_executions")
    op.drop_table("workflow_links")
    op.drop_index("ix_event_deliveries_event_id", table_name="event_deliveries")
    op.drop_index("ix_event_deliveries_root_execution_id_state", table_name="event_deliveries")
    op.drop_index("ix_event_deliveries_state_next_attempt_at", table_name="event_deliveries")
    op.drop_table("event_deliveries")
