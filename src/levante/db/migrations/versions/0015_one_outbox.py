"""One outbox for both directions of the handshake: `outbox` (with a `route` column)
replaces the engine's `event_deliveries` and the platform's `engine_reports`; the pending
messages of both are carried over, in order.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


# Pending messages only: what was delivered, given up or refused is history the retention
# would forget anyway.
_EVENTS_UP = (
    "INSERT INTO outbox (route, kind, line, execution_id, root_execution_id, "
    "task_execution_id, event_id, event, url, headers, state, attempts, created_at, "
    "next_attempt_at, first_attempt_at, last_attempt_at, delivered_at, last_status, "
    "last_error, last_duration_ms) "
    "SELECT 'events', subscriber, root_execution_id || ' ' || url, execution_id, "
    "root_execution_id, task_execution_id, event_id, event, url, headers, state, attempts, "
    "created_at, next_attempt_at, first_attempt_at, last_attempt_at, delivered_at, "
    "last_status, last_error, last_duration_ms "
    "FROM event_deliveries WHERE state = 'pending' ORDER BY id"
)
_REPORTS_UP = (
    "INSERT INTO outbox (route, kind, line, execution_id, target_id, url, body, state, "
    "attempts, created_at, next_attempt_at, last_attempt_at, delivered_at, last_status, "
    "last_error) "
    "SELECT 'reports', kind, target_id, execution_id, target_id, url, body, state, "
    "attempts, created_at, next_attempt_at, last_attempt_at, acknowledged_at, last_status, "
    "last_error "
    "FROM engine_reports WHERE state = 'pending' ORDER BY id"
)
_EVENTS_DOWN = (
    "INSERT INTO event_deliveries (event_id, event, execution_id, root_execution_id, "
    "task_execution_id, subscriber, url, headers, state, attempts, created_at, "
    "next_attempt_at, first_attempt_at, last_attempt_at, delivered_at, last_status, "
    "last_error, last_duration_ms) "
    "SELECT event_id, event, execution_id, root_execution_id, task_execution_id, kind, url, "
    "headers, state, attempts, created_at, next_attempt_at, first_attempt_at, "
    "last_attempt_at, delivered_at, last_status, last_error, last_duration_ms "
    "FROM outbox WHERE route = 'events' AND state = 'pending' ORDER BY id"
)
_REPORTS_DOWN = (
    "INSERT INTO engine_reports (execution_id, kind, target_id, url, body, state, attempts, "
    "created_at, next_attempt_at, last_attempt_at, acknowledged_at, last_status, last_error) "
    "SELECT execution_id, kind, target_id, url, body, state, attempts, created_at, "
    "next_attempt_at, last_attempt_at, delivered_at, last_status, last_error "
    "FROM outbox WHERE route = 'reports' AND state = 'pending' ORDER BY id"
)


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("route", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("execution_id", sa.String(36), nullable=False),
        sa.Column("root_execution_id", sa.String(36), nullable=True),
        sa.Column("task_execution_id", sa.String(36), nullable=True),
        sa.Column("event_id", _big_id(), nullable=True),
        sa.Column("event", sa.String(32), nullable=True),
        sa.Column("target_id", sa.String(36), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("next_attempt_at"),
        _ts("first_attempt_at", True),
        _ts("last_attempt_at", True),
        _ts("delivered_at", True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_duration_ms", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_route_state_next_attempt_at", "outbox",
                    ["route", "state", "next_attempt_at"])
    op.create_index("ix_outbox_route_line_state", "outbox", ["route", "line", "state"])
    op.create_index("ix_outbox_root_execution_id_state", "outbox",
                    ["root_execution_id", "state"])
    op.create_index("ix_outbox_event_id", "outbox", ["event_id"])
    op.create_index("ix_outbox_execution_id", "outbox", ["execution_id"])
    op.execute(_EVENTS_UP)
    op.execute(_REPORTS_UP)
    op.drop_index("ix_event_deliveries_event_id", table_name="event_deliveries")
    op.drop_index("ix_event_deliveries_root_execution_id_state", table_name="event_deliveries")
    op.drop_index("ix_event_deliveries_state_next_attempt_at", table_name="event_deliveries")
    op.drop_table("event_deliveries")
    op.drop_index("ix_engine_reports_execution_id", table_name="engine_reports")
    op.drop_index("ix_engine_reports_state_next_attempt_at", table_name="engine_reports")
    op.drop_table("engine_reports")


def downgrade() -> None:
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
    op.create_index("ix_event_deliveries_state_next_attempt_at", "event_deliveries",
                    ["state", "next_attempt_at"])
    op.create_index("ix_event_deliveries_root_execution_id_state", "event_deliveries",
                    ["root_execution_id", "state"])
    op.create_index("ix_event_deliveries_event_id", "event_deliveries", ["event_id"])
    op.create_table(
        "engine_reports",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("execution_id", sa.String(24), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(36), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("next_attempt_at"),
        _ts("last_attempt_at", True),
        _ts("acknowledged_at", True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_engine_reports"),
    )
    op.create_index("ix_engine_reports_state_next_attempt_at", "engine_reports",
                    ["state", "next_attempt_at"])
    op.create_index("ix_engine_reports_execution_id", "engine_reports", ["execution_id"])
    op.execute(_EVENTS_DOWN)
    op.execute(_REPORTS_DOWN)
    op.drop_index("ix_outbox_execution_id", table_name="outbox")
    op.drop_index("ix_outbox_event_id", table_name="outbox")
    op.drop_index("ix_outbox_root_execution_id_state", table_name="outbox")
    op.drop_index("ix_outbox_route_line_state", table_name="outbox")
    op.drop_index("ix_outbox_route_state_next_attempt_at", table_name="outbox")
    op.drop_table("outbox")
