"""Valid Mistral v2 workflows parse into the expected specs."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from levante.engine.languages.mistral_v2 import (
    InputParam,
    OnClauseTarget,
    RetrySpec,
    Transition,
    WorkflowSpec,
    parse_workflows,
)


def wf(body: str, name: str = "wf") -> WorkflowSpec:
    text = "version: '2.0'\n" + f"{name}:\n" + textwrap.indent(textwrap.dedent(body), "  ")
    specs = parse_workflows(text)
    assert len(specs) == 1
    return specs[0]


def task_field(task_yaml: str, field: str) -> Any:
    spec = wf("tasks:\n  t1:\n" + textwrap.indent(textwrap.dedent(task_yaml), "    "))
    return getattr(spec.tasks["t1"], field)


@pytest.mark.parametrize(
    ("task_yaml", "field", "expected"),
    [
        ("action: std.noop", "action", "std.noop"),
        ("{}", "action", "std.noop"),
        ("description: hi", "action", "std.noop"),
        ("action: std.echo output='x'", "input", {"output": "x"}),
        ('action: std.echo output="a b" n=<% $.n %>', "input",
         {"output": "a b", "n": "<% $.n %>"}),
        ("action: std.echo output={{ _.x }}", "input", {"output": "{{ _.x }}"}),
        ("action: std.echo n=3 f=true z=null l=[1, 2]", "input",
         {"n": 3, "f": True, "z": None, "l": [1, 2]}),
        ("action: std.echo output=1\ninput: {output: 2, other: 3}", "input",
         {"output": 1, "other": 3}),
        ("action: std.echo\ninput: {output: <% $.x %>}", "input", {"output": "<% $.x %>"}),
        ("action: std.echo\ninput: <% $.params %>", "input", "<% $.params %>"),
        ("workflow: sub_wf a=1", "workflow", "sub_wf"),
        ("workflow: sub_wf a=1", "input", {"a": 1}),
        ("workflow: sub_wf a=1", "action", None),
        ("workflow: <% $.wf_name %>", "workflow", "<% $.wf_name %>"),
        ("publish: {a: <% task().result %>}", "publish", {"a": "<% task().result %>"}),
        ("publish-on-error: {e: <% task().state_info %>}", "publish_on_error",
         {"e": "<% task().state_info %>"}),
        ("retry: count=3 delay=1", "retry", RetrySpec(3, 1, None, None)),
        ("retry: count=<% $.n %> delay=2 break-on=<% $.stop %>", "retry",
         RetrySpec("<% $.n %>", 2, "<% $.stop %>", None)),
        ("retry: {count: 5, delay: 0, continue-on: <% $.again %>}", "retry",
         RetrySpec(5, 0, None, "<% $.again %>")),
        ("retry: {count: 5}", "retry", RetrySpec(5, 0, None, None)),
        ("wait-before: 2", "wait_before", 2),
        ("wait-after: <% $.w %>", "wait_after", "<% $.w %>"),
        ("timeout: 30", "timeout", 30),
        ("pause-before: true", "pause_before", True),
        ("pause-before: <% $.p %>", "pause_before", "<% $.p %>"),
        ("fail-on: <% $.bad %>", "fail_on", "<% $.bad %>"),
        ("keep-result: false", "keep_result", False),
        ("safe-rerun: true", "safe_rerun", True),
        ("target: <% $.host %>", "target", "<% $.host %>"),
        ("with-items: x in <% $.xs %>", "with_items", [("x", "<% $.xs %>")]),
        ("with-items: x in [1, 2, 3]", "with_items", [("x", [1, 2, 3])]),
        ("with-items: x in ['a', 'b']", "with_items", [("x", ["a", "b"])]),
        ("with-items: x in {{ _.xs }}", "with_items", [("x", "{{ _.xs }}")]),
        ("with-items:\n  - x in <% $.xs %>\n  - y in <% $.ys %>", "with_items",
         [("x", "<% $.xs %>"), ("y", "<% $.ys %>")]),
        ("with-items: x in <% $.xs %>\nconcurrency: 2", "concurrency", 2),
        ("description: does things", "description", "does things"),
        ("policies:\n  retry: {count: 10, delay: 2}", "retry", RetrySpec(10, 2, None, None)),
        ("policies:\n  wait-before: 10\n  timeout: 5", "wait_before", 10),
        ("action: a-b.c_d x=1", "action", "a-b.c_d"),
        ("action: std.noop", "line", 4),
    ],
)
def test_task_fields(task_yaml: str, field: str, expected: Any) -> None:
    assert task_field(task_yaml, field) == expected


@pytest.mark.parametrize(
    ("clause_yaml", "expected"),
    [
        ("t2", Transition([OnClauseTarget("t2")])),
        ("[t2, t3]", Transition([OnClauseTarget("t2"), OnClauseTarget("t3")])),
        ("{t2: <% $.ok %>}", Transition([OnClauseTarget("t2", "<% $.ok %>")])),
        ("\n  - t2: <% $.ok %>\n  - t3",
         Transition([OnClauseTarget("t2", "<% $.ok %>"), OnClauseTarget("t3")])),
        ("fail", Transition([OnClauseTarget("fail")])),
        ("succeed", Transition([OnClauseTarget("succeed")])),
        ("pause", Transition([OnClauseTarget("pause")])),
        ("noop", Transition([OnClauseTarget("noop")])),
        ("fail msg='boom'", Transition([OnClauseTarget("fail", None, {"msg": "boom"})])),
        ("fail(msg=<% $.why %>)",
         Transition([OnClauseTarget("fail", None, {"msg": "<% $.why %>"})])),
        ("\n  - fail msg=\"no\": <% not $.ok %>",
         Transition([OnClauseTarget("fail", "<% not $.ok %>", {"msg": "no"})])),
        ("\n  publish:\n    a: 1\n  next: t2",
         Transition([OnClauseTarget("t2")], {"a": 1})),
        ("\n  publish:\n    branch: {a: 1}\n    global: {g: 2}\n  next:\n    - t2: <% $.a = 1 %>",
         Transition([OnClauseTarget("t2", "<% $.a = 1 %>")], {"a": 1}, {"g": 2})),
        ("\n  publish:\n    global: {g: <% $.x %>}",
         Transition([], {}, {"g": "<% $.x %>"})),
    ],
)
def test_on_clauses(clause_yaml: str, expected: Transition) -> None:
    clause = textwrap.indent(clause_yaml, "      ")
    text = f"version: '2.0'\nwf:\n  tasks:\n    t1:\n      on-success: {clause}\n"
    text += "    t2: {}\n    t3: {}\n"
    spec = parse_workflows(text)[0]
    assert spec.tasks["t1"].on_success == expected


def test_workflow_level_fields() -> None:
    spec = wf("""
        type: direct
        description: the test
        tags: [a, b]
        input:
          - a
          - b: 2
          - c: null
        vars:
          v: <% $.a %>
        output:
          out: <% $.v %>
        output-on-error:
          err: oops
        tasks:
          t1: {}
        """)
    assert spec.type == "direct"
    assert spec.description == "the test"
    assert spec.tags == ["a", "b"]
    assert spec.input == [InputParam("a", None, True), InputParam("b", 2, False),
                          InputParam("c", None, False)]
    assert spec.vars == {"v": "<% $.a %>"}
    assert spec.output == {"out": "<% $.v %>"}
    assert spec.output_on_error == {"err": "oops"}
    assert spec.line == 2
    assert spec.input_names() == ["a", "b", "c"]


def test_several_workflows_in_one_definition() -> None:
    specs = parse_workflows("version: 2.0\nwf1:\n  tasks: {t: {}}\nwf2:\n  tasks: {t: {}}\n")
    assert [s.name for s in specs] == ["wf1", "wf2"]


def test_task_defaults_are_merged() -> None:
    spec = wf("""
        task-defaults:
          retry: {count: 2, delay: 1}
          timeout: 10
          on-error:
            - handler
          on-complete: [audit]
        tasks:
          t1:
            timeout: 20
            on-success: t2
          t2:
            on-error: [t3]
          t3: {}
          handler: {}
          audit: {}
        """)
    t1, t2, handler = spec.tasks["t1"], spec.tasks["t2"], spec.tasks["handler"]
    assert t1.timeout == 20 and t2.timeout == 10
    assert t1.retry == RetrySpec(2, 1, None, None)
    assert t1.on_error == Transition([OnClauseTarget("handler")])
    assert t2.on_error == Transition([OnClauseTarget("t3")])
    # A task is removed from the default clause that would loop to itself.
    assert handler.on_error == Transition([])
    assert spec.tasks["audit"].on_complete == Transition([])
    assert spec.task_defaults["timeout"] == 10
    assert spec.task_defaults["on_error"]["targets"][0]["task"] == "handler"


def test_task_defaults_next_with_own_publish() -> None:
    spec = wf("""
        task-defaults:
          on-success: [t2]
        tasks:
          t1:
            on-success:
              publish: {a: 1}
          t2: {}
        """)
    assert spec.tasks["t1"].on_success == Transition([OnClauseTarget("t2")], {"a": 1})


@pytest.mark.parametrize(
    ("tasks_yaml", "start"),
    [
        ("t1: {on-success: t2}\nt2: {}", ["t1"]),
        ("t1: {}\nt2: {}", ["t1", "t2"]),
        ("t1: {on-success: [t3]}\nt2: {on-error: t3}\nt3: {join: all}", ["t1", "t2"]),
        ("t1: {on-complete: [{t2: <% $.x %>}]}\nt2: {on-success: [{t2: <% $.again %>}]}",
         ["t1"]),
        ("t1: {on-success: [fail]}", ["t1"]),
    ],
)
def test_direct_start_tasks(tasks_yaml: str, start: list[str]) -> None:
    spec = wf("tasks:\n" + textwrap.indent(tasks_yaml, "  "))
    assert spec.start_tasks() == start


def test_join_and_inbound() -> None:
    spec = wf("""
        tasks:
          a: {on-success: [c]}
          b: {on-error: [c]}
          c: {join: 2}
          d: {on-complete: [e]}
          e: {join: one}
        """)
    assert spec.tasks["c"].join == 2
    assert spec.tasks["e"].join == "one"
    assert spec.inbound("c") == ["a", "b"]
    assert spec.inbound("a") == []
    assert spec.tasks["a"].next_task_names() == {"c"}


def test_reverse_workflow() -> None:
    spec = wf("""
        type: reverse
        task-defaults:
          requires: [init]
        tasks:
          init: {}
          a: {}
          b: {requires: a}
          c: {requires: [a, b]}
          other: {}
        """)
    assert spec.is_reverse
    assert spec.tasks["init"].requires == []
    assert spec.tasks["b"].requires == ["init", "a"]
    assert spec.tasks["c"].requires == ["init", "a", "b"]
    assert spec.start_tasks("c") == ["init"]
    assert spec.required_closure("b") == {"init", "a", "b"}
    assert spec.inbound("c") == ["init", "a", "b"]
    assert spec.dependents("a") == ["b", "c"]
    assert set(spec.start_tasks()) == {"init"}


def test_reverse_without_defaults() -> None:
    spec = wf("""
        type: reverse
        tasks:
          a: {}
          b: {requires: a}
          x: {}
        """)
    assert spec.start_tasks("b") == ["a"]
    assert spec.start_tasks() == ["a", "x"]


def test_inline_action_keeps_dotted_and_plugin_names() -> None:
    spec = wf("tasks:\n  t1:\n    action: core.local cmd='uptime'\n")
    assert spec.tasks["t1"].action == "core.local"
    assert spec.tasks["t1"].input == {"cmd": "uptime"}


def test_bytes_input_and_dates_stay_strings() -> None:
    text = b"version: '2.0'\nwf:\n  vars: {d: 2024-01-02}\n  tasks: {t: {}}\n"
    assert parse_workflows(text)[0].vars == {"d": "2024-01-02"}
