"""The pure decisions of the state machine, on plain data."""

from __future__ import annotations

import pytest

from levante.engine import machine, states
from levante.engine.languages.mistral_v2.parser import parse_workflows
from levante.engine.languages.mistral_v2.spec import WorkflowSpec
from levante.engine.machine import TaskView


def spec(text: str) -> WorkflowSpec:
    return parse_workflows("version: '2.0'\n" + text)[0]


JOIN = spec("""
wf:
  tasks:
    a:
      action: std.noop
      on-success: c
      on-error: handler
    b:
      action: std.noop
      on-success: c
    c:
      join: all
      action: std.noop
    handler:
      action: std.noop
""")


def v(name: str, state: str, routed: tuple[str, ...] = (), processed: bool = True) -> TaskView:
    return TaskView(name, state, processed, routed)


def test_next_targets_by_state_and_guard() -> None:
    wf = spec("""
wf:
  tasks:
    t:
      action: std.noop
      on-success:
        - x: <% yes %>
        - y: <% no %>
      on-error: z
      on-complete: w
    x: {action: std.noop}
    y: {action: std.noop}
    z: {action: std.noop}
    w: {action: std.noop}
""")
    t = wf.tasks["t"]
    guards = {"<% yes %>": True, "<% no %>": False}
    ok = machine.next_targets(t, states.SUCCESS, lambda g: guards[g])
    assert [(k, tg.task) for k, tg in ok] == [("on-success", "x"), ("on-complete", "w")]
    err = machine.next_targets(t, states.ERROR, lambda g: guards[g])
    assert [(k, tg.task) for k, tg in err] == [("on-error", "z"), ("on-complete", "w")]
    assert machine.next_targets(t, states.CANCELLED, lambda g: True) == []


def test_join_all_waits_then_is_satisfied() -> None:
    views = {"a": [v("a", states.SUCCESS, ("c",))], "b": [v("b", states.RUNNING, (), False)]}
    assert machine.join_status(JOIN, "c", views) == machine.WAITING
    views["b"] = [v("b", states.SUCCESS, ("c",))]
    assert machine.join_status(JOIN, "c", views) == machine.SATISFIED


def test_join_all_impossible_when_inbound_went_elsewhere() -> None:
    views = {"a": [v("a", states.ERROR, ("handler",))], "b": [v("b", states.SUCCESS, ("c",))]}
    assert machine.join_status(JOIN, "c", views) == machine.IMPOSSIBLE


def test_join_counts_inbound_that_has_not_started_yet() -> None:
    wf = spec("""
wf:
  tasks:
    s:
      action: std.noop
      on-success: [a, pre]
    pre:
      action: std.noop
      on-success: b
    a:
      action: std.noop
      on-success: c
    b:
      action: std.noop
      on-success: c
    c:
      join: 2
      action: std.noop
""")
    views = {
        "s": [v("s", states.SUCCESS, ("a", "pre"))],
        "a": [v("a", states.SUCCESS, ("c",))],
        "pre": [v("pre", states.RUNNING, (), False)],
    }
    assert machine.join_status(wf, "c", views) == machine.WAITING
    views["pre"] = [v("pre", states.SUCCESS, ())]
    assert machine.join_status(wf, "c", views) == machine.IMPOSSIBLE


def test_join_one() -> None:
    wf = spec("""
wf:
  tasks:
    a: {action: std.noop, on-success: c}
    b: {action: std.noop, on-success: c}
    c: {join: one, action: std.noop}
""")
    views = {"a": [v("a", states.SUCCESS, ("c",))], "b": [v("b", states.RUNNING, (), False)]}
    assert machine.join_status(wf, "c", views) == machine.SATISFIED


def test_direct_outcome() -> None:
    assert machine.direct_outcome([v("a", states.RUNNING, (), False)]) is None
    assert machine.direct_outcome([v("a", states.SUCCESS, (), False)]) is None
    done = machine.direct_outcome([v("a", states.SUCCESS)])
    assert done is not None and done.state == states.SUCCESS
    failed = machine.direct_outcome([v("a", states.ERROR), v("b", states.SUCCESS)])
    assert failed is not None and failed.state == states.ERROR
    assert failed.failed_tasks == ["a"]
    handled = TaskView("a", states.ERROR, True, ("h",), error_handled=True)
    out = machine.direct_outcome([handled, v("h", states.SUCCESS)])
    assert out is not None and out.state == states.SUCCESS


def test_reverse_ready_and_outcome() -> None:
    wf = spec("""
wf:
  type: reverse
  tasks:
    a: {action: std.noop}
    b: {action: std.noop, requires: [a]}
    c: {action: std.noop, requires: [a, b]}
    d: {action: std.noop}
""")
    closure = wf.required_closure("c")
    assert closure == {"a", "b", "c"}
    assert machine.reverse_ready(wf, closure, {}) == ["a"]
    views = {"a": [v("a", states.SUCCESS)]}
    assert machine.reverse_ready(wf, closure, views) == ["b"]
    views["b"] = [v("b", states.SUCCESS)]
    assert machine.reverse_ready(wf, closure, views) == ["c"]
    assert machine.reverse_outcome(closure, views) is None
    views["c"] = [v("c", states.SUCCESS)]
    out = machine.reverse_outcome(closure, views)
    assert out is not None and out.state == states.SUCCESS


def test_workflow_input() -> None:
    wf = spec("""
wf:
  input:
    - a
    - b: 2
  tasks:
    t: {action: std.noop}
""")
    assert machine.workflow_input(wf, {"a": 1}) == {"a": 1, "b": 2}
    with pytest.raises(machine.InputError, match=r"missing required parameter.*a"):
        machine.workflow_input(wf, {})
    with pytest.raises(machine.InputError, match=r"unexpected parameter.*zz"):
        machine.workflow_input(wf, {"a": 1, "zz": 0})


def test_zip_items_and_merge() -> None:
    assert machine.zip_items([("x", [1, 2]), ("y", ["a", "b"])]) == [
        {"x": 1, "y": "a"}, {"x": 2, "y": "b"}
    ]
    with pytest.raises(ValueError, match="same length"):
        machine.zip_items([("x", [1]), ("y", [])])
    assert machine.merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}, "d": 4}) == {
        "a": {"b": 1, "c": 3}, "d": 4
    }


@pytest.mark.parametrize(
    ("done", "count", "failed", "break_on", "cont", "expected"),
    [
        (0, 2, True, False, None, True),
        (2, 2, True, False, None, False),
        (0, 2, True, True, None, False),
        (0, 2, False, False, None, False),
        (0, 2, False, False, True, True),
    ],
)
def test_retry_decision(
    done: int, count: int, failed: bool, break_on: bool, cont: bool | None, expected: bool
) -> None:
    assert machine.retry_decision(done, count, failed, break_on, cont) is expected
