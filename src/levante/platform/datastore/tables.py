"""The datastore's table (migration 0011 creates it): one row per key.

A key is named within its scope (``system``, or ``user`` with the owning user in
``owner``; the empty string for the system). ``value`` holds the ciphertext of a secret.
A key past ``expires_at`` is never returned and is deleted by the next write.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, String, Table, Text, UniqueConstraint

from levante.db.metadata import metadata

kv_pairs = Table(
    "kv_pairs",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("scope", String(16), nullable=False),
    Column("owner", String(255), nullable=False),
    Column("name", String(512), nullable=False),
    Column("value", Text, nullable=False),
    Column("secret", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("scope", "owner", "name"),
    Index("ix_kv_pairs_expires_at", "expires_at"),
)
