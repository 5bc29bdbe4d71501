"""Platform: packs, actions, executions, output lines, API keys, tokens.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "packs",
        sa.Column("ref", sa.String(255), nullable=False),
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("author", sa.String(255), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        _ts("registered_at"),
        sa.PrimaryKeyConstraint("ref", name="pk_packs"),
        sa.UniqueConstraint("id", name="uq_packs_id"),
    )
    op.create_table(
        "actions",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("ref", sa.String(512), nullable=False),
        sa.Column("pack", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("runner_type", sa.String(64), nullable=False),
        sa.Column("entry_point", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("metadata_file", sa.Text(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_actions"),
        sa.UniqueConstraint("ref", name="uq_actions_ref"),
    )
    op.create_index("ix_actions_pack", "actions", ["pack"])
    op.create_table(
        "executions",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("action_ref", sa.String(512), nullable=False),
        sa.Column("action", sa.JSON(), nullable=False),
        sa.Column("runner", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("parent", sa.String(24), nullable=True),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("timeout", sa.Integer(), nullable=False),
        _ts("start_timestamp"),
        _ts("end_timestamp", nullable=True),
        sa.Column("log", sa.JSON(), nullable=False),
        sa.Column("claimed_by", sa.String(36), nullable=True),
        _ts("lease_until", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_executions"),
    )
    for column in ("status", "action_ref", "parent", "start_timestamp", "claimed_by"):
        op.create_index(f"ix_executions_{column}", "executions", [column])
    op.create_table(
        "execution_output",
        sa.Column("execution_id", sa.String(24), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("stream", sa.String(16), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        _ts("timestamp"),
        sa.ForeignKeyConstraint(
            ["execution_id"], ["executions.id"], ondelete="CASCADE",
            name="fk_execution_output_execution_id_executions",
        ),
        sa.PrimaryKeyConstraint("execution_id", "seq", name="pk_execution_output"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("user", sa.String(255), nullable=False),
        _ts("created_at"),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user", sa.String(255), nullable=False),
        _ts("created_at"),
        _ts("expiry"),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_tokens_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("tokens")
    op.drop_table("api_keys")
    op.drop_table("execution_output")
    for column in ("claimed_by", "start_timestamp", "parent", "action_ref", "status"):
        op.drop_index(f"ix_executions_{column}", table_name="executions")
    op.drop_table("executions")
    op.drop_index("ix_actions_pack", table_name="actions")
    op.drop_table("actions")
    op.drop_table("packs")
