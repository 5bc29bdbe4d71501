"""Mistral v2's names for the parsed specs.

A Mistral workflow parses straight into the engine's neutral graph
(`levante.engine.languages.graph`); the names below are the ones Mistral's documentation
uses, kept so the parser reads as the language does. Only the workbook is Mistral's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from levante.engine.languages.graph import (
    DIRECT,
    ENGINE_COMMANDS,
    REVERSE,
    InputParam,
    Transition,
)
from levante.engine.languages.graph import AdHocAction as AdHocActionSpec
from levante.engine.languages.graph import RetryPolicy as RetrySpec
from levante.engine.languages.graph import Target as OnClauseTarget
from levante.engine.languages.graph import TaskNode as TaskSpec
from levante.engine.languages.graph import WorkflowGraph as WorkflowSpec

__all__ = [
    "DIRECT",
    "ENGINE_COMMANDS",
    "REVERSE",
    "AdHocActionSpec",
    "InputParam",
    "OnClauseTarget",
    "RetrySpec",
    "TaskSpec",
    "Transition",
    "WorkbookSpec",
    "WorkflowSpec",
]


@dataclass(slots=True)
class WorkbookSpec:
    """A workbook: workflows and ad-hoc actions named `<workbook>.<name>`."""

    name: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    workflows: dict[str, WorkflowSpec] = field(default_factory=dict)
    actions: dict[str, AdHocActionSpec] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "tags": list(self.tags),
            "workflows": [w.to_dict() for w in self.workflows.values()],
            "actions": [a.to_dict() for a in self.actions.values()],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorkbookSpec:
        wfs = [WorkflowSpec.from_dict(w) for w in d.get("workflows") or ()]
        acts = [AdHocActionSpec.from_dict(a) for a in d.get("actions") or ()]
        return cls(
            name=d["name"],
            description=d.get("description") or "",
            tags=list(d.get("tags") or ()),
            workflows={w.name: w for w in wfs},
            actions={a.name: a for a in acts},
        )
