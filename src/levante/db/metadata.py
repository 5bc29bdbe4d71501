"""The one MetaData every table of Levante belongs to, with deterministic constraint names.

Each service declares its tables in its own module (``levante.engine.models``,
``levante.platform.core.models``; the identity tables both use in ``levante.identity.tables``);
`all_metadata()` imports them so that migrations and
`levante-db-manage check` see the whole schema.
"""

from __future__ import annotations

import importlib

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Base(DeclarativeBase):
    """Declarative base for ORM-mapped tables; shares `metadata`."""

    metadata = metadata


# Processes of every role register here and beat; used to find work whose owner died.
processes = Table(
    "processes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("role", String(32), nullable=False),
    Column("hostname", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    Index("ix_processes_role_heartbeat_at", "role", "heartbeat_at"),
)

MODEL_MODULES = ("levante.identity.tables", "levante.engine.models", "levante.platform.core.models",
                 "levante.platform.configs.tables",
                 "levante.contract.tables", "levante.platform.workflows.tables",
                 "levante.platform.datastore.tables",
                 "levante.platform.inquiries.tables",
                 "levante.platform.stream.tables",
                 "levante.platform.triggers.tables", "levante.platform.rules.tables",
                 "levante.platform.timers.tables", "levante.platform.sensors.tables")


def all_metadata() -> MetaData:
    """The metadata with every service's tables loaded."""
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return metadata
