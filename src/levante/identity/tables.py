"""The identity tables shared by both services: API keys and tokens (hashes only).

Created by migration 0004 (they were the platform's tables then); declared here so that
the engine can check keys without importing the platform.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, String, Table

from levante.db.metadata import metadata

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("user", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("metadata", JSON, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expiry", DateTime(timezone=True), nullable=False),
    Column("metadata", JSON, nullable=False),
)
