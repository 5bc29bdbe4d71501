"""The Mistral v2 workflow language: parse and validate definitions into specs.

Public API: `parse_workflows(text)`, `parse_workbook(text)`, `parse_actions(text)`,
`resolve_input(params, given, workflow)`, `check_references(spec, action_exists,
workflow_exists)`, `ValidationError`, and the spec classes of `levante.engine.lang.spec`.
"""

from levante.engine.lang.checks import check_references, resolve_input
from levante.engine.lang.errors import ValidationError
from levante.engine.lang.parser import parse_actions, parse_workbook, parse_workflows
from levante.engine.lang.spec import (
    DIRECT,
    ENGINE_COMMANDS,
    REVERSE,
    AdHocActionSpec,
    InputParam,
    OnClauseTarget,
    RetrySpec,
    TaskSpec,
    Transition,
    WorkbookSpec,
    WorkflowSpec,
)

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
    "ValidationError",
    "WorkbookSpec",
    "WorkflowSpec",
    "check_references",
    "parse_actions",
    "parse_workbook",
    "parse_workflows",
    "resolve_input",
]
