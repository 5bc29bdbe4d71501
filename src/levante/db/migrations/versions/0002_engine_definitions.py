"""Engine definitions: workbooks, workflows, ad-hoc actions, environments, cron triggers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _common() -> list[sa.Column[Any]]:
    return [
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("project_id", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "workbooks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        *_common(),
        sa.PrimaryKeyConstraint("id", name="pk_workbooks"),
        sa.UniqueConstraint(
            "name", "namespace", "project_id", name="uq_workbooks_name_namespace_project_id"
        ),
    )
    op.create_table(
        "workflow_definitions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("input", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.Column("workbook_name", sa.String(255), nullable=True),
        sa.Column("checksum", sa.String(64), nullable=False),
        *_common(),
        sa.PrimaryKeyConstraint("id", name="pk_workflow_definitions"),
        sa.UniqueConstraint(
            "name",
            "namespace",
            "project_id",
            name="uq_workflow_definitions_name_namespace_project_id",
        ),
    )
    op.create_index(
        "ix_workflow_definitions_workbook_name", "workflow_definitions", ["workbook_name"]
    )
    op.create_table(
        "action_definitions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("input", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.Column("workbook_name", sa.String(255), nullable=True),
        *_common(),
        sa.PrimaryKeyConstraint("id", name="pk_action_definitions"),
        sa.UniqueConstraint(
            "name",
            "namespace",
            "project_id",
            name="uq_action_definitions_name_namespace_project_id",
        ),
    )
    op.create_index(
        "ix_action_definitions_workbook_name", "action_definitions", ["workbook_name"]
    )
    op.create_table(
        "environments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("variables", sa.JSON(), nullable=False),
        *_common(),
        sa.PrimaryKeyConstraint("id", name="pk_environments"),
        sa.UniqueConstraint("name", "project_id", name="uq_environments_name_project_id"),
    )
    op.create_table(
        "cron_triggers",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("pattern", sa.String(100), nullable=True),
        sa.Column("first_execution_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_execution_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remaining_executions", sa.Integer(), nullable=True),
        sa.Column("workflow_name", sa.String(255), nullable=False),
        sa.Column("workflow_namespace", sa.String(255), nullable=False),
        sa.Column("workflow_id", sa.String(36), nullable=False),
        sa.Column("workflow_input", sa.JSON(), nullable=False),
        sa.Column("workflow_params", sa.JSON(), nullable=False),
        *_common(),
        sa.PrimaryKeyConstraint("id", name="pk_cron_triggers"),
        sa.UniqueConstraint("name", "project_id", name="uq_cron_triggers_name_project_id"),
    )
    op.create_index(
        "ix_cron_triggers_next_execution_time", "cron_triggers", ["next_execution_time"]
    )
    op.create_index("ix_cron_triggers_workflow_id", "cron_triggers", ["workflow_id"])


def downgrade() -> None:
    op.drop_index("ix_cron_triggers_workflow_id", table_name="cron_triggers")
    op.drop_index("ix_cron_triggers_next_execution_time", table_name="cron_triggers")
    op.drop_table("cron_triggers")
    op.drop_table("environments")
    op.drop_index("ix_action_definitions_workbook_name", table_name="action_definitions")
    op.drop_table("action_definitions")
    op.drop_index("ix_workflow_definitions_workbook_name", table_name="workflow_definitions")
    op.drop_table("workflow_definitions")
    op.drop_table("workbooks")
