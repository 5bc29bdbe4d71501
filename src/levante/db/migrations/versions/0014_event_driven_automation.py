"""Event-driven automation: trigger types, triggers, trigger instances, rules and their
enforcements, timer slots and sensors.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule_enforcements",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("rule_id", sa.String(length=24), nullable=False),
        sa.Column("rule_ref", sa.String(length=512), nullable=False),
        sa.Column("trigger_instance_id", sa.String(length=24), nullable=False),
        sa.Column("execution_id", sa.String(length=24), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("enforced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_enforcements")),
        sa.UniqueConstraint(
            "trigger_instance_id",
            "rule_id",
            name=op.f("uq_rule_enforcements_trigger_instance_id_rule_id"),
        ),
    )
    with op.batch_alter_table("rule_enforcements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rule_enforcements_enforced_at_id", ["enforced_at", "id"], unique=False
        )
        batch_op.create_index("ix_rule_enforcements_execution_id", ["execution_id"], unique=False)
        batch_op.create_index(
            "ix_rule_enforcements_rule_ref_enforced_at_id", ["rule_ref", "enforced_at", "id"],
            unique=False,
        )

    op.create_table(
        "rules",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("ref", sa.String(length=512), nullable=False),
        sa.Column("pack", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("trigger", sa.JSON(), nullable=False),
        sa.Column("trigger_ref", sa.String(length=512), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("action", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("metadata_file", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rules")),
        sa.UniqueConstraint("ref", name=op.f("uq_rules_ref")),
    )
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.create_index("ix_rules_pack", ["pack"], unique=False)
        batch_op.create_index("ix_rules_trigger_ref", ["trigger_ref"], unique=False)

    op.create_table(
        "sensors",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("ref", sa.String(length=512), nullable=False),
        sa.Column("pack", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("class_name", sa.String(length=255), nullable=False),
        sa.Column("entry_point", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("poll_interval", sa.Integer(), nullable=True),
        sa.Column("trigger_types", sa.JSON(), nullable=False),
        sa.Column("metadata_file", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=36), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensors")),
        sa.UniqueConstraint("ref", name=op.f("uq_sensors_ref")),
    )
    with op.batch_alter_table("sensors", schema=None) as batch_op:
        batch_op.create_index("ix_sensors_pack", ["pack"], unique=False)

    op.create_table(
        "timer_slots",
        sa.Column("trigger_ref", sa.String(length=512), nullable=False),
        sa.Column("slot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance_id", sa.String(length=24), nullable=True),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("trigger_ref", "slot_at", name=op.f("pk_timer_slots")),
    )
    op.create_table(
        "trigger_instances",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("trigger", sa.String(length=512), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("occurrence_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("payload_from", sa.String(length=24), nullable=True),
        sa.Column("claimed_by", sa.String(length=36), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger_instances")),
    )
    with op.batch_alter_table("trigger_instances", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trigger_instances_occurrence_time_id", ["occurrence_time", "id"], unique=False
        )
        batch_op.create_index(
            "ix_trigger_instances_status_occurrence_time_id",
            ["status", "occurrence_time", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_trigger_instances_trigger_occurrence_time_id",
            ["trigger", "occurrence_time", "id"],
            unique=False,
        )

    op.create_table(
        "trigger_types",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("ref", sa.String(length=512), nullable=False),
        sa.Column("pack", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("payload_schema", sa.JSON(), nullable=False),
        sa.Column("parameters_schema", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("metadata_file", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger_types")),
        sa.UniqueConstraint("ref", name=op.f("uq_trigger_types_ref")),
    )
    op.create_table(
        "triggers",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("ref", sa.String(length=512), nullable=False),
        sa.Column("pack", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=512), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triggers")),
        sa.UniqueConstraint("ref", name=op.f("uq_triggers_ref")),
    )
    with op.batch_alter_table("triggers", schema=None) as batch_op:
        batch_op.create_index("ix_triggers_type", ["type"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("triggers", schema=None) as batch_op:
        batch_op.drop_index("ix_triggers_type")

    op.drop_table("triggers")
    op.drop_table("trigger_types")
    with op.batch_alter_table("trigger_instances", schema=None) as batch_op:
        batch_op.drop_index("ix_trigger_instances_trigger_occurrence_time_id")
        batch_op.drop_index("ix_trigger_instances_status_occurrence_time_id")
        batch_op.drop_index("ix_trigger_instances_occurrence_time_id")

    op.drop_table("trigger_instances")
    op.drop_table("timer_slots")
    with op.batch_alter_table("sensors", schema=None) as batch_op:
        batch_op.drop_index("ix_sensors_pack")

    op.drop_table("sensors")
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.drop_index("ix_rules_trigger_ref")
        batch_op.drop_index("ix_rules_pack")

    op.drop_table("rules")
    with op.batch_alter_table("rule_enforcements", schema=None) as batch_op:
        batch_op.drop_index("ix_rule_enforcements_rule_ref_enforced_at_id")
        batch_op.drop_index("ix_rule_enforcements_execution_id")
        batch_op.drop_index("ix_rule_enforcements_enforced_at_id")

    op.drop_table("rule_enforcements")
