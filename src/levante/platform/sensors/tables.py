"""``sensors`` (migration 0014 creates it): the pack sensors as registered, and who runs
each one: ``claimed_by`` (a sensor container's process id) holds it until
``lease_until``, renewed while the container lives; another container takes it over
once the lease has passed."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Index, Integer, String, Table, Text

from levante.db.metadata import metadata

sensors = Table(
    "sensors",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("ref", String(512), nullable=False, unique=True),
    Column("pack", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("class_name", String(255), nullable=False),
    Column("entry_point", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("poll_interval", Integer, nullable=True),
    Column("trigger_types", JSON, nullable=False),
    Column("metadata_file", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("claimed_by", String(36), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Index("ix_sensors_pack", "pack"),
)
