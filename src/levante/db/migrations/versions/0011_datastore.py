"""The datastore's key-value pairs (``levante.platform.datastore.tables``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kv_pairs",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_kv_pairs"),
        sa.UniqueConstraint("scope", "owner", "name", name="uq_kv_pairs_scope_owner_name"),
    )
    op.create_index("ix_kv_pairs_expires_at", "kv_pairs", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_kv_pairs_expires_at", table_name="kv_pairs")
    op.drop_table("kv_pairs")
