"""Checks that need more than the definition: given inputs, known actions and workflows.

They raise the same `ValidationError` as parsing, so the API answers 400 the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from levante.engine.expressions.syntax import is_expression
from levante.engine.languages.errors import ValidationError
from levante.engine.languages.mistral_v2.spec import InputParam, WorkflowSpec


def resolve_input(
    params: Iterable[InputParam],
    given: Mapping[str, Any] | None,
    workflow: str | None = None,
    allow_unexpected: bool = False,
) -> dict[str, Any]:
    """The input a workflow (or ad-hoc action) runs with: `given` plus defaults.

    Raises ValidationError naming every missing required input and every unexpected one.
    Defaults are returned as written (they may hold expressions).
    """
    given = dict(given or {})
    declared = list(params)
    names = {p.name for p in declared}
    missing = [p.name for p in declared if p.required and p.name not in given]
    unexpected = [] if allow_unexpected else sorted(k for k in given if k not in names)
    problems = []
    if missing:
        problems.append(f"missing required input: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected input: {', '.join(unexpected)}")
    if problems:
        raise ValidationError("; ".join(problems), workflow=workflow, field="input")
    result: dict[str, Any] = {}
    for p in declared:
        result[p.name] = given.get(p.name, p.default)
    for key, value in given.items():
        result.setdefault(key, value)
    return result


def check_references(
    spec: WorkflowSpec,
    action_exists: Callable[[str], bool],
    workflow_exists: Callable[[str], bool],
) -> None:
    """Refuse a workflow whose tasks name an action or sub-workflow that does not exist.

    Names given by an expression are only known at run time and are not checked.
    """
    for task in spec.tasks.values():
        if task.action and not is_expression(task.action) and not action_exists(task.action):
            raise ValidationError(f"unknown action '{task.action}'", spec.name, task.name,
                                  "action", task.line or None)
        if (task.workflow and not is_expression(task.workflow)
                and not workflow_exists(task.workflow)):
            raise ValidationError(f"unknown workflow '{task.workflow}'", spec.name, task.name,
                                  "workflow", task.line or None)
