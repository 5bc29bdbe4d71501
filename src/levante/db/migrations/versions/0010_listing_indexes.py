"""Listings read only the rows of their page: indexes that end in each listing's order.

`st2 execution list` filters on parent, action, status or user and orders by
start_timestamp then id; the engine's listings filter on state and order by created_at
then id. An index per filter ending in that order lets the database walk a page straight
from the index instead of sorting every match (330 ms at 100,000 executions before).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# (table, index dropped, (index created, columns)) - the new index replaces the old one,
# whose leading column it keeps.
CHANGES: tuple[tuple[str, str | None, str, tuple[str, ...]], ...] = (
    ("executions", "ix_executions_start_timestamp",
     "ix_executions_start_timestamp_id", ("start_timestamp", "id")),
    ("executions", "ix_executions_status",
     "ix_executions_status_start_timestamp_id", ("status", "start_timestamp", "id", "parent")),
    ("executions", "ix_executions_action_ref",
     "ix_executions_action_ref_start_timestamp_id",
     ("action_ref", "start_timestamp", "id", "parent")),
    ("executions", "ix_executions_parent",
     "ix_executions_parent_start_timestamp_id", ("parent", "start_timestamp", "id")),
    ("executions", None,
     "ix_executions_user_start_timestamp_id", ("user", "start_timestamp", "id", "parent")),
    ("workflow_executions", "ix_workflow_executions_state",
     "ix_workflow_executions_state_created_at_id", ("state", "created_at", "id")),
    ("workflow_executions", "ix_workflow_executions_created_at",
     "ix_workflow_executions_created_at_id", ("created_at", "id")),
    ("task_executions", "ix_task_executions_state",
     "ix_task_executions_state_created_at_id", ("state", "created_at", "id")),
    ("task_executions", None,
     "ix_task_executions_created_at_id", ("created_at", "id")),
    ("action_executions", "ix_action_executions_created_at",
     "ix_action_executions_created_at_id", ("created_at", "id")),
)


def upgrade() -> None:
    for table, old, new, columns in CHANGES:
        op.create_index(new, table, list(columns))
        if old:
            op.drop_index(old, table_name=table)


def downgrade() -> None:
    for table, old, new, columns in reversed(CHANGES):
        if old:
            op.create_index(old, table, [columns[0]])
        op.drop_index(new, table_name=table)
