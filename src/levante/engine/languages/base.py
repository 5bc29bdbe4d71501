"""What a workflow language gives the engine: the interface every language implements.

A language turns the text a user sends (`POST /v2/workflows`, `/v2/actions`,
`/v2/workbooks`) into the neutral graph of `levante.engine.languages.graph`, refusing bad
text with `ValidationError` (what is wrong and where: workflow, task, field, line). It also
says how each definition is stored and shown (its own text, a one-line input, tags), and
rebuilds a graph from the JSON stored with a definition. The engine core (machine, steps,
runtime, context) reads only the graph; the definitions store asks the language. Languages
are found by name in `levante.engine.languages.registry`; see docs/languages.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from levante.engine.languages.graph import AdHocAction, WorkflowGraph

# The language of every definition stored before languages were recorded, and of every
# definition sent without naming one (the Mistral v2 API has no way to name one).
DEFAULT_LANGUAGE = "mistral-v2"


@dataclass(slots=True)
class WorkflowDefinition:
    """One workflow out of a text, as it is stored and shown.

    `text` is the part of the text that defines this workflow alone (the API shows it as
    the workflow's definition); `input` the one-line display of its input ("a, b=1").
    """

    graph: WorkflowGraph
    text: str
    input: str = ""
    tags: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.graph.name


@dataclass(slots=True)
class ActionDefinition:
    """One ad-hoc action out of a text, as it is stored and shown."""

    action: AdHocAction
    text: str
    input: str = ""
    tags: list[str] = field(default_factory=list)
    description: str | None = None

    @property
    def name(self) -> str:
        return self.action.name


@dataclass(slots=True)
class WorkbookDefinition:
    """A workbook: workflows and ad-hoc actions already named `<workbook>.<name>`.

    `spec` is what is stored as the workbook's own parsed form (JSON).
    """

    name: str
    spec: dict[str, Any]
    tags: list[str] = field(default_factory=list)
    workflows: list[WorkflowDefinition] = field(default_factory=list)
    actions: list[ActionDefinition] = field(default_factory=list)


class WorkflowLanguage(Protocol):
    """A workflow language. Every parse method raises `ValidationError` on bad text."""

    # The name stored in the `language` column of each definition it parsed.
    name: str

    def parse_workflows(self, text: str) -> list[WorkflowDefinition]:
        """The workflows of a text (one text may define several)."""
        ...

    def parse_actions(self, text: str) -> list[ActionDefinition]:
        """The ad-hoc actions of a text; a language without them refuses every text."""
        ...

    def parse_workbook(self, text: str) -> WorkbookDefinition:
        """A workbook; a language without workbooks refuses every text."""
        ...

    def check_references(
        self,
        graph: WorkflowGraph,
        action_exists: Callable[[str], bool],
        workflow_exists: Callable[[str], bool],
    ) -> None:
        """Refuse a workflow naming an action or sub-workflow that cannot exist."""
        ...

    def load_workflow(self, stored: Mapping[str, Any]) -> WorkflowGraph:
        """The graph from the `spec` JSON stored with a definition this language parsed."""
        ...

    def load_action(self, stored: Mapping[str, Any]) -> AdHocAction:
        """The ad-hoc action from its stored `spec` JSON."""
        ...
