"""Errors while a task is being started (expressions, refused input) are not retried, as
in Mistral; failures of the action itself are. Input defaults and dynamic action names."""

from __future__ import annotations

from sqlalchemy import Engine

from levante.engine.core.runtime import EngineRuntime

from .harness import ThreadWorker, define, run, tasks


def test_retry_skips_errors_in_task_input(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    bad_input:
      action: std.echo output=<% $.missing.deeper %>
      retry: count=3 delay=0
    bad_items:
      with-items: x in <% $.missing.deeper %>
      action: std.echo output=<% $.x %>
      retry: count=3 delay=0
    bad_wait:
      action: std.noop
      wait-before: <% $.missing.deeper %>
      retry: count=3 delay=0
    unknown:
      action: <% 'std.no_such_action' %>
      retry: count=3 delay=0
    failing:
      action: std.fail
      retry: count=2 delay=0
""")
    ex = run(rt, ns, "wf")
    assert ex["state"] == "ERROR"
    found = tasks(db, ex["id"])
    for name in ("bad_input", "bad_items", "bad_wait", "unknown"):
        t = found[name]
        assert t["state"] == "ERROR", name
        assert int(t["runtime_context"].get("retry_no", 0)) == 0, name
        assert int(t["runtime_context"].get("attempt", 0)) <= 1, name
    assert "$.missing.deeper" in found["bad_input"]["state_info"]
    assert "std.no_such_action" in found["unknown"]["state_info"]
    # an action that fails is retried: 1 run + 2 retries
    assert found["failing"]["runtime_context"]["attempt"] == 3


def test_input_default_expression_in_subworkflow(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str
) -> None:
    define(db, ns, """
version: '2.0'
child:
  input:
    - n
    - twice: <% $.n * 2 %>
    - region: <% env().region %>
  output:
    twice: <% $.twice %>
    region: <% $.region %>
  tasks:
    t:
      action: std.noop
parent:
  tasks:
    call:
      workflow: child n=4
      publish:
        got: <% task().result %>
broken_child:
  input:
    - v: <% $.nothing.here %>
  tasks:
    t:
      action: std.noop
broken_parent:
  tasks:
    call:
      workflow: broken_child
      retry: count=2 delay=0
""")
    ex = run(rt, ns, "parent", params={"env": {"region": "eu"}})
    assert ex["state"] == "SUCCESS", ex["state_info"]
    assert ex["output"]["got"] == {"twice": 8, "region": "eu"}
    bad = run(rt, ns, "broken_parent")
    assert bad["state"] == "ERROR"
    info = tasks(db, bad["id"])["call"]["state_info"]
    assert "default of input 'v'" in info and "$.nothing.here" in info

