"""A toy workflow language, to show that a language is one module plus its registration.

One workflow per `workflow:` line, then its lines:

    workflow: greet
    input: name, punct=!
    output: {"greeting": "<% $.said %>"}
    hello: std.echo {"output": "Hello <% $.name %>"} -> shout | oops
    shout: std.noop publish {"said": "loud"}
    oops: std.fail

A task line is `<name>: <action> [<JSON input>] [publish <JSON>] [-> <next>, ...]
[| <on error>, ...]`; `#` starts a comment. Nothing else: no workbooks, no ad-hoc actions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from levante.engine.languages.base import (
    ActionDefinition,
    WorkbookDefinition,
    WorkflowDefinition,
)
from levante.engine.languages.errors import ValidationError
from levante.engine.languages.graph import (
    AdHocAction,
    InputParam,
    Target,
    TaskNode,
    Transition,
    WorkflowGraph,
)

NAME = "toy"

_TASK = re.compile(
    r"^(?P<name>\w+):\s+(?P<action>[\w.]+)"
    r"(?:\s+(?P<input>\{.*?\}))?"
    r"(?:\s+publish\s+(?P<publish>\{.*?\}))?"
    r"(?:\s+->\s*(?P<next>[\w, ]+?))?"
    r"(?:\s+\|\s*(?P<error>[\w, ]+?))?\s*$"
)


def _json(text: str, workflow: str, task: str | None, field: str, line: int) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"not JSON: {exc.msg}", workflow, task, field, line) from None


def _transition(names: str | None) -> Transition | None:
    if not names:
        return None
    return Transition([Target(n.strip()) for n in names.split(",") if n.strip()])


def _input(text: str) -> list[InputParam]:
    params = []
    for part in (p.strip() for p in text.split(",")):
        if "=" in part:
            name, default = part.split("=", 1)
            params.append(InputParam(name.strip(), default.strip(), required=False))
        elif part:
            params.append(InputParam(part))
    return params


class ToyLanguage:
    """Parses the toy text into the engine's graph."""

    name = NAME

    def parse_workflows(self, text: str) -> list[WorkflowDefinition]:
        graphs: list[WorkflowGraph] = []
        current: WorkflowGraph | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("workflow:"):
                current = WorkflowGraph(name=line.split(":", 1)[1].strip(), line=number)
                graphs.append(current)
                continue
            if current is None:
                raise ValidationError("expected 'workflow: <name>' first", line=number)
            if line.startswith("input:"):
                current.input = _input(line.split(":", 1)[1])
                continue
            if line.startswith("output:"):
                current.output = _json(line.split(":", 1)[1], current.name, None, "output",
                                       number)
                continue
            match = _TASK.match(line)
            if match is None:
                raise ValidationError("expected '<task>: <action> ...'", current.name,
                                      line=number)
            task = match["name"]
            if task in current.tasks:
                raise ValidationError("task defined twice", current.name, task, line=number)
            current.tasks[task] = TaskNode(
                name=task,
                action=match["action"],
                input=_json(match["input"], current.name, task, "input", number)
                if match["input"] else {},
                publish=_json(match["publish"], current.name, task, "publish", number)
                if match["publish"] else {},
                on_success=_transition(match["next"]),
                on_error=_transition(match["error"]),
                line=number,
            )
        if not graphs:
            raise ValidationError("the text holds no workflow")
        for graph in graphs:
            if not graph.tasks:
                raise ValidationError("a workflow needs a task", graph.name, line=graph.line)
            for task in graph.tasks.values():
                for name in task.next_task_names():
                    if name not in graph.tasks:
                        raise ValidationError(f"no task {name!r}", graph.name, task.name,
                                              "next", task.line)
        shown = {g.name: ", ".join(p.name for p in g.input) for g in graphs}
        return [WorkflowDefinition(g, text, shown[g.name]) for g in graphs]

    def parse_actions(self, text: str) -> list[ActionDefinition]:
        raise ValidationError("the toy language has no ad-hoc actions")

    def parse_workbook(self, text: str) -> WorkbookDefinition:
        raise ValidationError("the toy language has no workbooks")

    def check_references(
        self,
        graph: WorkflowGraph,
        action_exists: Callable[[str], bool],
        workflow_exists: Callable[[str], bool],
    ) -> None:
        for task in graph.tasks.values():
            if task.action and not action_exists(task.action):
                raise ValidationError(f"unknown action {task.action!r}", graph.name,
                                      task.name, "action", task.line)

    def load_workflow(self, stored: Mapping[str, Any]) -> WorkflowGraph:
        return WorkflowGraph.from_dict(dict(stored))

    def load_action(self, stored: Mapping[str, Any]) -> AdHocAction:
        return AdHocAction.from_dict(dict(stored))
