"""The Mistral v2 workflow language: parse and validate definitions into the engine's graph.

`LANGUAGE` is what the registry hands the engine (see `levante.engine.languages.base`).
Also public: `parse_workflows(text)`, `parse_workbook(text)`, `parse_actions(text)`,
`resolve_input(params, given, workflow)`, `check_references(spec, action_exists,
workflow_exists)`, `ValidationError`, and Mistral's names for the parsed specs
(`levante.engine.languages.mistral_v2.spec`).
"""

from levante.engine.languages.base import WorkflowLanguage
from levante.engine.languages.errors import ValidationError
from levante.engine.languages.mistral_v2.checks import check_references, resolve_input
from levante.engine.languages.mistral_v2.language import MistralV2
from levante.engine.languages.mistral_v2.parser import (
    parse_actions,
    parse_workbook,
    parse_workflows,
)
from levante.engine.languages.mistral_v2.spec import (
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

LANGUAGE: WorkflowLanguage = MistralV2()

__all__ = [
    "DIRECT",
    "ENGINE_COMMANDS",
    "LANGUAGE",
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
