"""``timer_slots`` (migration 0014 creates it): one row per fired slot of a timer trigger.

The row is inserted in the transaction that records the slot's trigger instance; its key
(trigger, slot) is what makes each slot fire once across any number of processes. The
latest row of a trigger says where its schedule resumes after downtime.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, String, Table

from levante.db.metadata import metadata

timer_slots = Table(
    "timer_slots",
    metadata,
    Column("trigger_ref", String(512), primary_key=True),
    Column("slot_at", DateTime(timezone=True), primary_key=True),
    Column("instance_id", String(24), nullable=True),  # None: a missed slot skipped
    Column("fired_at", DateTime(timezone=True), nullable=False),
)
