"""Sub-workflows: pause, cancel and fail travel between parents and children."""

from __future__ import annotations

import time

from sqlalchemy import Engine

from levante.engine.core import runtime
from levante.engine.core.runtime import EngineRuntime
from levante.engine.store import executions as store

from .harness import ThreadWorker, define, run, task_states, tasks, wait_done

FAMILY = """
version: '2.0'
child:
  input: [d]
  output: {done: <% $.d %>}
  tasks:
    work:
      action: std.echo output=<% $.d %> delay=<% $.d %>
      on-success: more
    more:
      action: std.noop
parent:
  tasks:
    call:
      workflow: child
      input: {d: 0.4}
      on-success: after
    after:
      action: std.noop
"""


def _child(db: Engine, parent_id: str) -> dict:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        t = tasks(db, parent_id).get("call")
        if t is not None:
            with db.connect() as conn:
                children = store.child_workflows(conn, [t["id"]])
            if children:
                return children[0]
        time.sleep(0.01)
    raise AssertionError("no child workflow")


def test_pause_parent_pauses_child_and_resume(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, FAMILY)
    ex = rt.start_workflow(workflow_identifier="parent", namespace=ns)
    child = _child(db, ex["id"])
    rt.set_workflow_state(ex["id"], "PAUSED")
    with db.connect() as conn:
        assert store.get_workflow(conn, child["id"])["state"] == "PAUSED"
    assert task_states(db, ex["id"])["call"] == "PAUSED"
    time.sleep(0.6)
    with db.connect() as conn:
        assert store.get_workflow(conn, child["id"])["state"] == "PAUSED"
    rt.set_workflow_state(ex["id"], "RUNNING")
    done = wait_done(db, ex["id"])
    assert done["state"] == "SUCCESS", done["state_info"]
    assert task_states(db, ex["id"]) == {"call": "SUCCESS", "after": "SUCCESS"}
    assert tasks(db, ex["id"])["call"]["result"] == {"done": 0.4}


def test_pausing_child_pauses_parent(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, FAMILY)
    ex = rt.start_workflow(workflow_identifier="parent", namespace=ns)
    child = _child(db, ex["id"])
    rt.set_workflow_state(child["id"], "PAUSED")
    with db.connect() as conn:
        assert store.get_workflow(conn, ex["id"])["state"] == "PAUSED"
    rt.set_workflow_state(child["id"], "RUNNING")
    with db.connect() as conn:
        assert store.get_workflow(conn, ex["id"])["state"] == "RUNNING"
    assert wait_done(db, ex["id"])["state"] == "SUCCESS"


def test_cancel_parent_cancels_child(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, FAMILY)
    ex = rt.start_workflow(workflow_identifier="parent", namespace=ns)
    child = _child(db, ex["id"])
    rt.set_workflow_state(ex["id"], "CANCELLED")
    with db.connect() as conn:
        assert store.get_workflow(conn, child["id"])["state"] == "CANCELLED"
        assert store.get_workflow(conn, ex["id"])["state"] == "CANCELLED"
    time.sleep(0.6)
    assert "after" not in task_states(db, ex["id"])


def test_cancel_child_cancels_parent(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, FAMILY)
    ex = rt.start_workflow(workflow_identifier="parent", namespace=ns)
    child = _child(db, ex["id"])
    rt.set_workflow_state(child["id"], "CANCELLED", "Cancelled by user.")
    parent = wait_done(db, ex["id"])
    assert parent["state"] == "CANCELLED"
    assert parent["state_info"] == "Cancelled tasks: call"
    assert task_states(db, ex["id"])["call"] == "CANCELLED"
    assert tasks(db, ex["id"])["call"]["state_info"] == "Cancelled by user."


def test_fail_parent_fails_child(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, FAMILY)
    ex = rt.start_workflow(workflow_identifier="parent", namespace=ns)
    child = _child(db, ex["id"])
    failed = rt.set_workflow_state(ex["id"], "ERROR", "stop it")
    assert failed["state"] == "ERROR"
    assert failed["state_info"] == "stop it"
    with db.connect() as conn:
        assert store.get_workflow(conn, child["id"])["state"] == "ERROR"


def test_with_items_sub_workflows_and_expression_workflow_name(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str
) -> None:
    define(db, ns, """
version: '2.0'
square:
  input: [x]
  output: {sq: <% $.x * $.x %>}
  tasks:
    t: {action: std.noop}
fan:
  input:
    - which: square
  output: {all: <% $.all %>}
  tasks:
    each:
      with-items: x in <% [1, 2, 3] %>
      workflow: <% $.which %>
      input: {x: <% $.x %>}
      publish: {all: <% task().result.select($.sq) %>}
""")
    ex = run(rt, ns, "fan")
    assert ex["state"] == "SUCCESS", ex["state_info"]
    assert ex["output"] == {"all": [1, 4, 9]}


def test_functions_in_expressions(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, """
version: '2.0'
wf:
  input: [x]
  output:
    env: <% env().greeting %>
    ex: <% execution().input.x %>
    name: <% $.first_name %>
    count: <% len(tasks(execution().id)) %>
    jinja: "{{ _.x + 1 }}"
  tasks:
    first:
      action: std.echo output=hi
      publish:
        first_name: <% task(first).name %>
      on-success: second
    second:
      action: std.noop
""")
    ex = run(rt, ns, "wf", {"x": 4}, params={"env": {"greeting": "hello"}})
    assert ex["state"] == "SUCCESS", ex["state_info"]
    assert ex["output"] == {"env": "hello", "ex": 4, "name": "first", "count": 2, "jinja": 5}


def test_rerun_with_items_keeps_successes(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, """
version: '2.0'
wf:
  output: {r: <% $.r %>}
  tasks:
    each:
      with-items: i in <% [1, 2, 3] %>
      action: std.echo output=<% 6 / ($.i - env().bad) %>
      publish: {r: <% task().result %>}
""")
    ex = run(rt, ns, "wf", params={"env": {"bad": 2}})
    assert ex["state"] == "ERROR"
    each = tasks(db, ex["id"])["each"]
    assert each["state"] == "ERROR"
    with db.connect() as conn:
        first = store.actions_of_task(conn, each["id"])
    assert len(first) == 2  # the failing item (a bad expression) made no action
    rt.rerun_task(each["id"], reset=False, env={"bad": 0})
    done = wait_done(db, ex["id"])
    assert done["state"] == "SUCCESS", done["state_info"]
    assert done["output"] == {"r": [-6, 3, 6]}  # items 0 and 2 kept from the first run
    with db.connect() as conn:
        assert len(store.actions_of_task(conn, each["id"])) == 3


def test_ad_hoc_action(db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str) -> None:
    from levante.engine.store import definitions

    with runtime.writer(db) as conn:
        definitions.create_actions(conn, f"""
version: '2.0'
greet_{ns}:
  base: std.echo
  base-input:
    output: "Hello, <% $.name %>"
  input: [name]
  output: <% $ %>!
""")
    define(db, ns, f"""
version: '2.0'
wf:
  tasks:
    t:
      action: greet_{ns} name=Bob
      publish: {{said: <% task().result %>}}
""")
    ex = run(rt, ns, "wf")
    assert ex["state"] == "SUCCESS", ex["state_info"]
    assert ex["output"]["said"] == "Hello, Bob!"


def test_rerun_task_of_sub_workflow_reruns_parent(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str
) -> None:
    define(db, ns, """
version: '2.0'
kid:
  output: {v: <% $.v %>}
  tasks:
    t:
      action: std.echo output=<% 10 / env().div %>
      publish: {v: <% task().result %>}
top:
  output: {got: <% $.got %>}
  tasks:
    call:
      workflow: kid
      publish: {got: <% task().result.v %>}
""")
    ex = run(rt, ns, "top", params={"env": {"div": 0}})
    assert ex["state"] == "ERROR"
    child = _child(db, ex["id"])
    assert child["state"] == "ERROR"
    kid_task = tasks(db, child["id"])["t"]
    rt.rerun_task(kid_task["id"], env={"div": 5})
    done = wait_done(db, ex["id"])
    assert done["state"] == "SUCCESS", done["state_info"]
    assert done["output"] == {"got": 2}
    assert task_states(db, ex["id"]) == {"call": "SUCCESS"}
