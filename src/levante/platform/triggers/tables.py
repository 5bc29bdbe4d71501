"""The trigger tables (migration 0014 creates them).

- ``trigger_types``: what can happen (``core.st2.webhook``, a pack's types), with the JSON
  schemas of its payload and of its parameters.
- ``triggers``: a trigger type with parameters (a webhook's ``url``, a timer's
  ``delta``); a parameterless type is its own trigger (same ref). Rules name a trigger.
- ``trigger_instances``: one event of a trigger, with its payload. It is committed before
  anything acts on it; the rules engine claims it (``claimed_by``, ``lease_until``: taken
  over when its process dies) and moves it ``pending`` -> ``processing`` -> ``processed``
  or ``processing_failed``. ``payload_from``: an execution whose ending the payload
  describes (action and notify triggers), read when the instance is processed so that
  ending an execution costs one small insert.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Index, String, Table, Text

from levante.db.metadata import metadata

trigger_types = Table(
    "trigger_types",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("ref", String(512), nullable=False, unique=True),
    Column("pack", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False),
    Column("payload_schema", JSON, nullable=False),
    Column("parameters_schema", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("metadata_file", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

triggers = Table(
    "triggers",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("ref", String(512), nullable=False, unique=True),
    Column("pack", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("type", String(512), nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_triggers_type", "type"),
)

trigger_instances = Table(
    "trigger_instances",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("trigger", String(512), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("occurrence_time", DateTime(timezone=True), nullable=False),
    Column("status", String(24), nullable=False),
    Column("payload_from", String(24), nullable=True),
    Column("claimed_by", String(36), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    # The rules engine's claim: the oldest pending first.
    Index("ix_trigger_instances_status_occurrence_time_id", "status", "occurrence_time",
          "id"),
    # Listings, newest first, all or of one trigger.
    Index("ix_trigger_instances_occurrence_time_id", "occurrence_time", "id"),
    Index("ix_trigger_instances_trigger_occurrence_time_id", "trigger", "occurrence_time",
          "id"),
)
