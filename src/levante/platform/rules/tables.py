"""The rule tables (migration 0014 creates them).

- ``rules``: StackStorm's rule as registered (from a pack's ``rules/*.yaml`` or the API):
  its trigger (``trigger`` JSON ``{type, parameters, ref}``; ``trigger_ref`` the ref of
  the trigger it listens to), ``criteria``, ``action`` ``{ref, parameters}`` and
  ``context`` (``user``: the identity its executions run as).
- ``rule_enforcements``: one row per (trigger instance, rule) that matched, with the
  execution it started or why it could not. The unique pair is what makes enforcement
  exactly-once: the execution is created in the transaction that inserts its enforcement.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from levante.db.metadata import metadata

rules = Table(
    "rules",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("ref", String(512), nullable=False, unique=True),
    Column("pack", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("trigger", JSON, nullable=False),
    Column("trigger_ref", String(512), nullable=False),
    Column("criteria", JSON, nullable=False),
    Column("action", JSON, nullable=False),
    Column("context", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("metadata_file", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_rules_trigger_ref", "trigger_ref"),
    Index("ix_rules_pack", "pack"),
)

rule_enforcements = Table(
    "rule_enforcements",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("rule_id", String(24), nullable=False),
    Column("rule_ref", String(512), nullable=False),
    Column("trigger_instance_id", String(24), nullable=False),
    Column("execution_id", String(24), nullable=True),
    Column("status", String(24), nullable=False),  # succeeded | failed
    Column("failure_reason", Text, nullable=True),
    Column("enforced_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("trigger_instance_id", "rule_id"),
    Index("ix_rule_enforcements_enforced_at_id", "enforced_at", "id"),
    Index("ix_rule_enforcements_rule_ref_enforced_at_id", "rule_ref", "enforced_at", "id"),
    Index("ix_rule_enforcements_execution_id", "execution_id"),
)
