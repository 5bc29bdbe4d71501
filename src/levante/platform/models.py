"""The platform's tables: packs, actions, executions and their output (API keys and tokens
are the identity tables shared with the engine, `levante.identity.tables`, re-exported).

SQLAlchemy Core tables on the shared `metadata`; migration 0004 creates exactly these.
Execution ids are 24 hexadecimal digits (time first, like StackStorm's ObjectIds), so they
sort by creation and look familiar to `st2` users.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from levante.db.metadata import metadata
from levante.identity.tables import api_keys as api_keys  # shared identity tables
from levante.identity.tables import tokens as tokens

packs = Table(
    "packs",
    metadata,
    Column("ref", String(255), primary_key=True),
    Column("id", String(24), nullable=False, unique=True),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False),
    Column("version", String(64), nullable=False),
    Column("author", String(255), nullable=False),
    Column("path", Text, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)

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

actions = Table(
    "actions",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("ref", String(512), nullable=False, unique=True),
    Column("pack", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False),
    Column("runner_type", String(64), nullable=False),
    Column("entry_point", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("metadata_file", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("notify", JSON, nullable=True),  # the metadata's notify block (0017)
    Index("ix_actions_pack", "pack"),
)

executions = Table(
    "executions",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("action_ref", String(512), nullable=False),
    Column("action", JSON, nullable=False),
    Column("runner", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("context", JSON, nullable=False),
    Column("result", JSON, nullable=True),
    Column("parent", String(24), nullable=True),
    Column("user", String(255), nullable=False),
    Column("timeout", Integer, nullable=False),
    Column("start_timestamp", DateTime(timezone=True), nullable=False),
    Column("end_timestamp", DateTime(timezone=True), nullable=True),
    Column("log", JSON, nullable=False),
    Column("claimed_by", String(36), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    # Each listing filter leads an index in the listing's order (newest first, the id
    # breaking ties) that also holds the parent, which `st2 execution list` always filters
    # on: a page and its count are read from the index alone (0010).
    Index("ix_executions_start_timestamp_id", "start_timestamp", "id"),
    Index("ix_executions_status_start_timestamp_id", "status", "start_timestamp", "id",
          "parent"),
    Index("ix_executions_action_ref_start_timestamp_id", "action_ref", "start_timestamp", "id",
          "parent"),
    Index("ix_executions_parent_start_timestamp_id", "parent", "start_timestamp", "id"),
    Index("ix_executions_user_start_timestamp_id", "user", "start_timestamp", "id",
          "parent"),
    Index("ix_executions_claimed_by", "claimed_by"),
)

execution_output = Table(
    "execution_output",
    metadata,
    Column(
        "execution_id",
        String(24),
        ForeignKey("executions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("stream", String(16), nullable=False),
    Column("data", Text, nullable=False),
    Column("timestamp", DateTime(timezone=True), nullable=False),
)

