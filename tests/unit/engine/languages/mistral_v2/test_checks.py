"""Input resolution and reference checks."""

from __future__ import annotations

from typing import Any

import pytest

from levante.engine.languages.mistral_v2 import (
    InputParam,
    ValidationError,
    check_references,
    parse_workflows,
    resolve_input,
)

PARAMS = [InputParam("a"), InputParam("b", 2, False), InputParam("c", "<% $.a %>", False)]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"a": 1}, {"a": 1, "b": 2, "c": "<% $.a %>"}),
        ({"a": 1, "b": None}, {"a": 1, "b": None, "c": "<% $.a %>"}),
        ({"a": [1], "b": 3, "c": 4}, {"a": [1], "b": 3, "c": 4}),
    ],
)
def test_resolve_input(given: dict[str, Any], expected: dict[str, Any]) -> None:
    assert resolve_input(PARAMS, given, "wf") == expected


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({}, "missing required input: a"),
        (None, "missing required input: a"),
        ({"a": 1, "z": 2, "y": 3}, "unexpected input: y, z"),
        ({"z": 1}, "missing required input: a; unexpected input: z"),
    ],
)
def test_resolve_input_errors(given: dict[str, Any] | None, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        resolve_input(PARAMS, given, "wf")
    assert info.value.message == words
    assert (info.value.workflow, info.value.field) == ("wf", "input")
    assert str(info.value).startswith("workflow 'wf', field 'input': ")


def test_resolve_input_allowing_unexpected() -> None:
    assert resolve_input([], {"x": 1}, allow_unexpected=True) == {"x": 1}


SPEC = parse_workflows("""
version: '2.0'
wf:
  tasks:
    t1:
      action: std.echo output=1
      on-success: t2
    t2:
      workflow: sub
    t3:
      workflow: <% $.dynamic %>
""")[0]


def test_check_references_passes() -> None:
    check_references(SPEC, {"std.echo", "std.noop"}.__contains__, {"sub"}.__contains__)


@pytest.mark.parametrize(
    ("actions", "workflows", "task", "field", "line", "words"),
    [
        (set(), {"sub"}, "t1", "action", 5, "unknown action 'std.echo'"),
        ({"std.echo"}, set(), "t2", "workflow", 8, "unknown workflow 'sub'"),
    ],
)
def test_check_references_refuses(actions: set[str], workflows: set[str], task: str,
                                  field: str, line: int, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_references(SPEC, actions.__contains__, workflows.__contains__)
    e = info.value
    assert (e.workflow, e.task, e.field, e.line, e.message) == ("wf", task, field, line, words)
