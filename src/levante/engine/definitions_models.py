"""Tables of what the engine is given to run: workbooks, workflows, ad-hoc actions,
environments and cron triggers (Mistral's definition objects).

Execution tables live in `levante.engine.models`, which imports this module. Names are
unique per (name, namespace, project_id) as in Mistral; namespaces are stored as '' rather
than NULL so that the unique constraints hold on every database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from levante.db.metadata import metadata
from levante.engine.languages.base import DEFAULT_LANGUAGE

DEFAULT_PROJECT = "<default-project>"


def _language() -> Column[Any]:
    """The workflow language the definition is written in (`levante.engine.languages`):
    it parses the text and rebuilds the stored spec."""
    return Column("language", String(32), nullable=False, server_default=DEFAULT_LANGUAGE)


def _common() -> list[Column[Any]]:
    return [
        Column("scope", String(16), nullable=False),
        Column("project_id", String(80), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=True),
    ]


workbooks = Table(
    "workbooks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("namespace", String(255), nullable=False),
    Column("definition", Text, nullable=False),
    Column("spec", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
    _language(),
    *_common(),
    UniqueConstraint("name", "namespace", "project_id"),
)

workflow_definitions = Table(
    "workflow_definitions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("namespace", String(255), nullable=False),
    Column("definition", Text, nullable=False),
    Column("spec", JSON, nullable=False),
    # Mistral's display form of the input: "a, b=1".
    Column("input", Text, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("is_system", Boolean, nullable=False),
    # Set when the workflow came from a workbook (named "<workbook>.<workflow>").
    Column("workbook_name", String(255), nullable=True),
    # sha256 of the definition text: lets callers see that a definition changed.
    Column("checksum", String(64), nullable=False),
    _language(),
    *_common(),
    UniqueConstraint("name", "namespace", "project_id"),
    Index("ix_workflow_definitions_workbook_name", "workbook_name"),
)

action_definitions = Table(
    "action_definitions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("namespace", String(255), nullable=False),
    Column("definition", Text, nullable=False),
    Column("spec", JSON, nullable=False),
    Column("input", Text, nullable=False),
    Column("description", Text, nullable=True),
    Column("tags", JSON, nullable=False),
    Column("is_system", Boolean, nullable=False),
    Column("workbook_name", String(255), nullable=True),
    _language(),
    *_common(),
    UniqueConstraint("name", "namespace", "project_id"),
    Index("ix_action_definitions_workbook_name", "workbook_name"),
)

environments = Table(
    "environments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("variables", JSON, nullable=False),
    *_common(),
    UniqueConstraint("name", "project_id"),
)

cron_triggers = Table(
    "cron_triggers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("pattern", String(100), nullable=True),
    Column("first_execution_time", DateTime(timezone=True), nullable=True),
    # NULL once the trigger has no firing left.
    Column("next_execution_time", DateTime(timezone=True), nullable=True),
    Column("remaining_executions", Integer, nullable=True),
    Column("workflow_name", String(255), nullable=False),
    Column("workflow_namespace", String(255), nullable=False),
    Column("workflow_id", String(36), nullable=False),
    Column("workflow_input", JSON, nullable=False),
    Column("workflow_params", JSON, nullable=False),
    *_common(),
    UniqueConstraint("name", "project_id"),
    Index("ix_cron_triggers_next_execution_time", "next_execution_time"),
    Index("ix_cron_triggers_workflow_id", "workflow_id"),
)

DEFINITION_TABLES = (
    workbooks,
    workflow_definitions,
    action_definitions,
    environments,
    cron_triggers,
)
