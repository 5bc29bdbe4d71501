"""Mistral v2 as a `WorkflowLanguage`: the parser's specs wrapped as stored definitions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from levante.engine.languages.base import (
    DEFAULT_LANGUAGE,
    ActionDefinition,
    WorkbookDefinition,
    WorkflowDefinition,
)
from levante.engine.languages.graph import AdHocAction, WorkflowGraph
from levante.engine.languages.mistral_v2 import checks, display, parser

NAME = DEFAULT_LANGUAGE


def _qualified(wb_name: str, spec_name: str) -> tuple[str, str]:
    """(full name '<wb>.<name>', short name) whatever form the parser gives.

    The workbook's name may itself hold dots (StackStorm names workbooks `pack.action`):
    the prefix removed is the whole workbook name, never the text up to the first dot."""
    prefix = wb_name + "."
    short = spec_name[len(prefix):] if spec_name.startswith(prefix) else spec_name
    return f"{wb_name}.{short}", short


def _workflow(graph: WorkflowGraph, raw: Any, text: str) -> WorkflowDefinition:
    shown, tags = display.shown_input_and_tags(graph.to_dict(), raw, as_json=False)
    return WorkflowDefinition(graph, text, shown, tags)


def _action(action: AdHocAction, raw: Any, text: str) -> ActionDefinition:
    spec_dict = action.to_dict()
    shown, tags = display.shown_input_and_tags(spec_dict, raw, as_json=True)
    description = raw.get("description") if isinstance(raw, Mapping) else None
    if description is None:
        description = spec_dict.get("description")
    return ActionDefinition(action, text, shown, tags,
                            str(description) if description is not None else None)


class MistralV2:
    """The Mistral v2 DSL (`version: '2.0'`): workflows, ad-hoc actions and workbooks."""

    name = NAME

    def parse_workflows(self, text: str) -> list[WorkflowDefinition]:
        graphs = parser.parse_workflows(text)
        raw = display.load_raw(text)
        return [
            _workflow(g, raw.get(g.name) or {}, display.cut_definition(text, g.name))
            for g in graphs
        ]

    def parse_actions(self, text: str) -> list[ActionDefinition]:
        actions = parser.parse_actions(text)
        raw = display.load_raw(text)
        return [
            _action(a, raw.get(a.name) or {}, display.cut_definition(text, a.name))
            for a in actions
        ]

    def parse_workbook(self, text: str) -> WorkbookDefinition:
        spec = parser.parse_workbook(text)
        raw = display.load_raw(text)
        spec_dict = spec.to_dict()
        name = str(spec.name or raw.get("name") or "")
        raw_wfs = raw.get("workflows") or {}
        raw_actions = raw.get("actions") or {}
        workflows = []
        for graph in spec.workflows.values():
            full, short = _qualified(name, graph.name)
            graph.name = full
            raw_one = raw_wfs.get(short) if isinstance(raw_wfs, Mapping) else None
            workflows.append(
                _workflow(graph, raw_one or {}, display.sub_definition(raw_wfs, short))
            )
        actions = []
        for action in spec.actions.values():
            full, short = _qualified(name, action.name)
            action.name = full
            raw_one = raw_actions.get(short) if isinstance(raw_actions, Mapping) else None
            actions.append(
                _action(action, raw_one or {}, display.sub_definition(raw_actions, short))
            )
        return WorkbookDefinition(
            name=name,
            spec=spec_dict,
            tags=display.tags(raw.get("tags", spec_dict.get("tags"))),
            workflows=workflows,
            actions=actions,
        )

    def check_references(
        self,
        graph: WorkflowGraph,
        action_exists: Callable[[str], bool],
        workflow_exists: Callable[[str], bool],
    ) -> None:
        checks.check_references(graph, action_exists, workflow_exists)

    def load_workflow(self, stored: Mapping[str, Any]) -> WorkflowGraph:
        return WorkflowGraph.from_dict(dict(stored))

    def load_action(self, stored: Mapping[str, Any]) -> AdHocAction:
        return AdHocAction.from_dict(dict(stored))
