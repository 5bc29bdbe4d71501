"""Definitions record the workflow language they are written in.

Workbooks, workflow definitions and ad-hoc action definitions get a ``language`` column;
every row stored before is Mistral v2, the only language there was.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Frozen here: a migration must not change when the code's default does.
_DEFAULT = "mistral-v2"
_TABLES = ("workbooks", "workflow_definitions", "action_definitions")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("language", sa.String(32), nullable=False, server_default=_DEFAULT)
            )


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("language")
