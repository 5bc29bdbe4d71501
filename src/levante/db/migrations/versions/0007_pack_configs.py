"""Pack configs: each pack's config schema and its validated config values.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pack_configs",
        sa.Column("pack", sa.String(255), nullable=False),
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("config_schema", sa.JSON(), nullable=True),
        sa.Column("config_values", sa.JSON(), nullable=True),
        sa.Column("config_file", sa.Text(), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pack", name="pk_pack_configs"),
        sa.UniqueConstraint("id", name="uq_pack_configs_id"),
    )


def downgrade() -> None:
    op.drop_table("pack_configs")
