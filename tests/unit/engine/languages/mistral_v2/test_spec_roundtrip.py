"""Specs survive JSON and rebuild equal, so the runtime can store them."""

from __future__ import annotations

import json

from levante.engine.languages.mistral_v2 import (
    AdHocActionSpec,
    OnClauseTarget,
    TaskSpec,
    Transition,
    WorkbookSpec,
    WorkflowSpec,
    parse_workbook,
    parse_workflows,
)

DEFINITION = """
version: '2.0'
big:
  description: everything
  tags: [t]
  input: [a, {b: 1}]
  vars: {v: 2}
  output: {o: <% $.o %>}
  output-on-error: {e: 1}
  task-defaults:
    retry: count=2 delay=1 break-on=<% $.stop %>
    on-error: [h]
  tasks:
    t1:
      action: std.echo output=<% $.a %>
      publish: {o: <% task().result %>}
      publish-on-error: {e: <% task().state_info %>}
      with-items:
        - x in <% $.xs %>
        - y in [1, 2]
      concurrency: 2
      wait-before: 1
      wait-after: 2
      timeout: 3
      pause-before: false
      fail-on: <% $.bad %>
      keep-result: false
      safe-rerun: true
      target: h1
      on-success:
        - t2: <% $.o %>
        - fail msg="x": <% not $.o %>
      on-complete:
        publish: {branch: {p: 1}, global: {g: 2}}
        next: t3
    t2: {join: one}
    t3: {}
    h: {}
rev:
  type: reverse
  tasks:
    a: {}
    b: {requires: a}
"""


def roundtrip_json(d: dict) -> dict:
    return json.loads(json.dumps(d))


def test_workflow_specs_roundtrip() -> None:
    for spec in parse_workflows(DEFINITION):
        again = WorkflowSpec.from_dict(roundtrip_json(spec.to_dict()))
        assert again == spec
        assert list(again.tasks) == list(spec.tasks)


def test_workbook_roundtrip() -> None:
    wb = parse_workbook("""
version: '2.0'
name: wb
actions:
  a: {base: std.echo output=1, input: [x]}
workflows:
  w: {tasks: {t: {action: a}}}
""")
    assert WorkbookSpec.from_dict(roundtrip_json(wb.to_dict())) == wb


def test_from_dict_defaults() -> None:
    t = TaskSpec.from_dict({"name": "t"})
    assert t == TaskSpec(name="t")
    assert t.keep_result is True and t.safe_rerun is False and t.transitions() == []
    w = WorkflowSpec.from_dict({"name": "w"})
    assert w.type == "direct" and w.tasks == {}
    a = AdHocActionSpec.from_dict({"name": "a", "base": "std.noop"})
    assert a.base_input == {} and a.input == []


def test_targets_and_commands() -> None:
    tr = Transition([OnClauseTarget("t2"), OnClauseTarget("fail", None, {"msg": "m"})])
    assert tr.task_names() == ["t2"]
    assert tr.targets[1].is_command and not tr.targets[0].is_command


def test_from_json_is_cached_and_equal() -> None:
    spec = parse_workflows(DEFINITION)[0]
    text = spec.to_json()
    a = WorkflowSpec.from_json(text)
    assert a == spec
    copy = text[:1] + text[1:]  # another str object, as read from a database
    assert copy is not text
    assert WorkflowSpec.from_json(copy) is a
