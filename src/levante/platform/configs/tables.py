"""The pack configs feature's table: each pack's registered config schema and values."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, String, Table, Text

from levante.db.metadata import metadata

# Each pack's config schema (config.schema.yaml) and config values (<configs_path>/<pack>.yaml,
# validated, defaults filled), as registered; migration 0016 creates it.
pack_configs = Table(
    "pack_configs",
    metadata,
    Column("pack", String(255), primary_key=True),
    Column("id", String(24), nullable=False, unique=True),
    Column("config_schema", JSON, nullable=True),
    Column("config_values", JSON, nullable=True),
    Column("config_file", Text, nullable=True),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)
