"""Whatever the YAML holds, parsing answers with specs or a ValidationError, nothing else."""

from __future__ import annotations

import random
from typing import Any

import yaml

from levante.engine.languages.mistral_v2 import (
    ValidationError,
    parse_actions,
    parse_workbook,
    parse_workflows,
)

KEYS = [
    "version", "name", "type", "input", "output", "output-on-error", "vars", "task-defaults",
    "tasks", "action", "workflow", "publish", "publish-on-error", "on-success", "on-error",
    "on-complete", "join", "requires", "with-items", "concurrency", "retry", "count", "delay",
    "break-on", "continue-on", "wait-before", "wait-after", "timeout", "pause-before",
    "fail-on", "keep-result", "safe-rerun", "target", "description", "tags", "next", "branch",
    "global", "policies", "base", "base-input", "workflows", "actions", "t1", "t2", "fail",
]
SCALARS: list[Any] = [
    None, True, False, 0, -1, 3, 1.5, "", "t1", "t2", "fail", "std.noop", "2.0", "all", "one",
    "reverse", "direct", "x in <% $.xs %>", "x in [1, 2", "<% $.x %>", "<% $.x + %>",
    "{{ _.x }}", "{{ _.x + }}", "count=3 delay=1", "std.echo output=", "fail msg='m'",
    "<% $.a %> {{ _.b }}", "a b c", "t1(x=1)", "[1, 2]",
]


def random_value(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth <= 0 or roll < 0.45:
        return rng.choice(SCALARS)
    if roll < 0.75:
        return {rng.choice(KEYS): random_value(rng, depth - 1) for _ in range(rng.randint(0, 4))}
    return [random_value(rng, depth - 1) for _ in range(rng.randint(0, 3))]


BASE = """
version: '2.0'
wf:
  type: direct
  input: [a, {b: 1}]
  vars: {v: <% $.a %>}
  output: {o: <% $.v %>}
  task-defaults:
    retry: count=2 delay=1
    on-error: [t3]
  tasks:
    t1:
      action: std.echo output=<% $.a %>
      publish: {p: <% task().result %>}
      with-items: [x in <% $.xs %>]
      on-success:
        - t2: <% $.p %>
        - fail msg="no": <% not $.p %>
    t2:
      join: one
      workflow: sub
      timeout: 5
      on-complete:
        publish: {branch: {q: 1}, global: {g: 2}}
        next: t3
    t3: {}
"""


def nodes(value: Any, out: list[tuple[Any, Any]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((value, k))
            nodes(v, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((value, i))
            nodes(v, out)


def random_document(rng: random.Random) -> str:
    doc = yaml.safe_load(BASE)
    for _ in range(rng.randint(1, 3)):
        places: list[tuple[Any, Any]] = []
        nodes(doc, places)
        if not places:
            break
        container, key = rng.choice(places)
        action = rng.random()
        if action < 0.6:
            container[key] = random_value(rng, 2)
        elif action < 0.8 and isinstance(container, dict):
            del container[key]
        elif isinstance(container, dict):
            container[rng.choice(KEYS)] = random_value(rng, 2)
    return yaml.safe_dump(doc)


def test_random_documents_never_crash() -> None:
    rng = random.Random(20261122)
    accepted = 0
    for _ in range(50):
        text = random_document(rng)
        for parse in (parse_workflows, parse_workbook, parse_actions):
            try:
                parse(text)
                accepted += 1
            except ValidationError as e:
                assert str(e)
    assert accepted > 0
