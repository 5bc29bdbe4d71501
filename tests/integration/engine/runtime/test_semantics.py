"""Mistral semantics, driven through `levante.engine.core.runtime` and a worker."""

from __future__ import annotations

from sqlalchemy import Engine

from levante.engine.core import runtime
from levante.engine.core.runtime import EngineRuntime
from levante.engine.store import executions as store

from .harness import ThreadWorker, define, run, task_states, tasks, wait_done


def test_on_error_branch_handles_failure(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    bad:
      action: std.fail error_data="boom"
      publish-on-error:
        why: <% task().result %>
      on-success: never
      on-error: handle
    never:
      action: std.noop
    handle:
      action: std.echo output=<% $.why %>
      publish:
        handled: <% task().result %>
""")
    ex = run(rt, ns, "wf")
    assert ex["state"] == "SUCCESS", ex["state_info"]
    assert task_states(db, ex["id"]) == {"bad": "ERROR", "handle": "SUCCESS"}
    assert ex["output"]["handled"] == "boom"


def test_unhandled_error_fails_workflow(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, """
version: '2.0'
wf:
  output-on-error:
    extra: 1
  tasks:
    a:
      action: std.fail
""")
    ex = run(rt, ns, "wf")
    assert ex["state"] == "ERROR"
    assert "Failure caused by error in tasks: a" in ex["state_info"]
    assert ex["output"]["extra"] == 1
    assert "a [task_ex_id=" in ex["output"]["result"]


def test_join_all_and_guards(db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str) -> None:
    define(db, ns, """
version: '2.0'
wf:
  input: [n]
  tasks:
    start:
      action: std.noop
      on-success:
        - left
        - right
        - never: <% $.n > 10 %>
    left:
      action: std.echo output=1
      publish: {l: <% task().result %>}
      on-success: joined
    right:
      action: std.echo output=2
      publish: {r: <% task().result %>}
      on-success: joined
    joined:
      join: all
      action: std.echo output=<% $.l + $.r %>
      publish: {sum: <% task().result %>}
    never:
      action: std.noop
""")
    ex = run(rt, ns, "wf", {"n": 1})
    assert ex["state"] == "SUCCESS", ex["state_info"]
    assert task_states(db, ex["id"]) == {
        "start": "SUCCESS", "left": "SUCCESS", "right": "SUCCESS", "joined": "SUCCESS"
    }
    assert ex["output"]["sum"] == 3


def test_join_that_cannot_be_satisfied_fails(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    a:
      action: std.fail
      on-success: j
      on-error: recover
    b:
      action: std.noop
      on-success: j
    recover:
      action: std.noop
    j:
      join: all
      action: std.noop
""")
    ex = run(rt, ns, "wf")
    assert ex["state"] == "ERROR"
    states = task_states(db, ex["id"])
    assert states["j"] == "ERROR"
    assert "Join" in tasks(db, ex["id"])["j"]["state_info"]


def test_join_one(db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str) -> None:
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    a:
      action: std.noop
      on-success: j
    b:
      action: std.fail
      on-error: j
    j:
      join: one
      action: std.noop
""")
    ex = run(rt, ns, "wf")
    assert task_states(db, ex["id"])["j"] == "SUCCESS"
    with db.connect() as conn:
        assert [t["name"] for t in store.tasks_of(conn, ex["id"])].count("j") == 1


def test_with_items_inline_and_concurrency(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, """
version: '2.0'
wf:
  input:
    - names: [a, b, c]
    - nums: [1, 2, 3]
  output:
    all: <% $.all %>
    slow: <% $.slow %>
  tasks:
    fast:
      with-items: [n in <% $.names %>, i in <% $.nums %>]
      action: std.echo output="<% $.n %><% $.i %>"
      publish: {all: <% task().result %>}
      on-success: slow
    slow:
      with-items: i in <% $.nums %>
      concurrency: 2
      action: std.echo output=<% $.i * 10 %> delay=0.05
      publish: {slow: <% task().result %>}
""")
    ex = run(rt, ns, "wf")
    assert ex["state"] == "SUCCESS", ex["state_info"]
    assert ex["output"] == {"all": ["a1", "b2", "c3"], "slow": [10, 20, 30]}
    with db.connect() as conn:
        actions = store.actions_of_task(conn, tasks(db, ex["id"])["slow"]["id"])
    assert len(actions) == 3


def test_with_items_empty_list(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    t:
      with-items: x in <% [] %>
      action: std.echo output=<% $.x %>
""")
    ex = run(rt, ns, "wf")
    assert ex["state"] == "SUCCESS"
    assert tasks(db, ex["id"])["t"]["result"] == []


def test_retry_then_fail(db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str) -> None:
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    t:
      action: std.fail
      retry:
        count: 2
        delay: <% 0.05 %>
""")
    ex = run(rt, ns, "wf")
    assert ex["state"] == "ERROR"
    t = tasks(db, ex["id"])["t"]
    with db.connect() as conn:
        assert len(store.actions_of_task(conn, t["id"])) == 3
    assert t["runtime_context"]["retry_no"] == 2


def test_retry_break_on(db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str) -> None:
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    t:
      action: std.fail
      retry:
        count: 5
        delay: 0
        break-on: <% true %>
""")
    ex = run(rt, ns, "wf")
    t = tasks(db, ex["id"])["t"]
    with db.connect() as conn:
        assert len(store.actions_of_task(conn, t["id"])) == 1


def test_wait_before_and_after(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    t:
      action: std.noop
      wait-before: <% 0.1 %>
      wait-after: <% 0.1 %>
""")
    ex = run(rt, ns, "wf")
    assert ex["state"] == "SUCCESS"
    t = tasks(db, ex["id"])["t"]
    assert (t["finished_at"] - t["created_at"]).total_seconds() >= 0.2


def test_timeout_fails_task(db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str) -> None:
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    t:
      action: std.sleep seconds=5
      timeout: <% 0.2 %>
      on-error: after
    after:
      action: std.noop
""")
    ex = run(rt, ns, "wf", timeout=4)
    assert ex["state"] == "SUCCESS"
    t = tasks(db, ex["id"])["t"]
    assert t["state"] == "ERROR"
    assert "timed out" in t["state_info"]


def test_expression_error_names_expression(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    t:
      action: std.echo output=<% $.missing.deeper %>
""")
    ex = run(rt, ns, "wf")
    assert ex["state"] == "ERROR"
    info = tasks(db, ex["id"])["t"]["state_info"]
    assert "$.missing.deeper" in info


def test_engine_commands(db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str) -> None:
    define(db, ns, """
version: '2.0'
failing:
  tasks:
    t:
      action: std.noop
      on-success:
        - fail msg="stopped here"
succeeding:
  tasks:
    t:
      action: std.fail
      on-error:
        - succeed
""")
    ex = run(rt, ns, "failing")
    assert ex["state"] == "ERROR"
    assert ex["state_info"] == "stopped here"
    ex = run(rt, ns, "succeeding")
    assert ex["state"] == "SUCCESS"


def test_fail_on_and_keep_result(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    t:
      action: std.echo output=5
      keep-result: false
      publish: {five: <% task().result %>}
      on-success: u
    u:
      action: std.echo output=3
      fail-on: <% task().result < 4 %>
""")
    ex = run(rt, ns, "wf")
    assert ex["state"] == "ERROR"
    ts = tasks(db, ex["id"])
    assert ts["t"]["result"] is None
    assert ts["t"]["published"] == {"five": 5}
    assert ts["u"]["state"] == "ERROR"


def test_global_publish(db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str) -> None:
    define(db, ns, """
version: '2.0'
wf:
  output:
    g: <% global(counter) %>
  tasks:
    a:
      action: std.echo output=7
      on-success:
        publish:
          global:
            counter: <% task().result %>
        next: [b]
    b:
      action: std.noop
""")
    ex = run(rt, ns, "wf")
    assert ex["state"] == "SUCCESS", ex["state_info"]
    assert ex["output"] == {"g": 7}


def test_sub_workflow_output(db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str) -> None:
    define(db, ns, """
version: '2.0'
child:
  input: [x]
  output:
    doubled: <% $.x * 2 %>
  tasks:
    t:
      action: std.noop
parent:
  tasks:
    call:
      workflow: child
      input: {x: 21}
      publish: {answer: <% task().result.doubled %>}
""")
    ex = run(rt, ns, "parent")
    assert ex["state"] == "SUCCESS", ex["state_info"]
    assert ex["output"]["answer"] == 42
    t = tasks(db, ex["id"])["call"]
    assert t["type"] == "WORKFLOW"
    with db.connect() as conn:
        [child] = store.child_workflows(conn, [t["id"]])
    assert child["state"] == "SUCCESS"
    assert child["root_execution_id"] == ex["id"]


def test_sub_workflow_failure_fails_parent_task(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, """
version: '2.0'
child:
  tasks:
    t:
      action: std.fail
parent:
  tasks:
    call:
      workflow: child
""")
    ex = run(rt, ns, "parent")
    assert ex["state"] == "ERROR"
    assert task_states(db, ex["id"]) == {"call": "ERROR"}


def test_reverse_workflow(db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str) -> None:
    define(db, ns, """
version: '2.0'
rev:
  type: reverse
  tasks:
    a:
      action: std.echo output=a
      publish: {a: <% task().result %>}
    b:
      action: std.echo output=b
      publish: {b: <% task().result %>}
    c:
      action: std.echo output=<% $.a + $.b %>
      requires: [a, b]
      publish: {c: <% task().result %>}
    unrelated:
      action: std.noop
""")
    ex = run(rt, ns, "rev", params={"task_name": "c"})
    assert ex["state"] == "SUCCESS", ex["state_info"]
    assert task_states(db, ex["id"]) == {"a": "SUCCESS", "b": "SUCCESS", "c": "SUCCESS"}
    assert ex["output"]["c"] == "ab"


def test_pause_resume_and_cancel(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    a:
      action: std.echo output=1 delay=0.3
      on-success: b
    b:
      action: std.noop
""")
    import time

    ex = rt.start_workflow(workflow_identifier="wf", namespace=ns)
    paused = rt.set_workflow_state(ex["id"], "PAUSED")
    assert paused["state"] == "PAUSED"
    rt.set_workflow_state(ex["id"], "RUNNING")
    wait_done(db, ex["id"], want=frozenset({"RUNNING"}))
    while "a" not in task_states(db, ex["id"]):
        time.sleep(0.01)
    rt.set_workflow_state(ex["id"], "PAUSED")
    time.sleep(0.6)
    assert task_states(db, ex["id"]) == {"a": "SUCCESS"}
    resumed = rt.set_workflow_state(ex["id"], "RUNNING")
    assert resumed["state"] in ("RUNNING", "SUCCESS")
    done = wait_done(db, ex["id"])
    assert done["state"] == "SUCCESS"
    assert task_states(db, ex["id"]) == {"a": "SUCCESS", "b": "SUCCESS"}

    ex2 = rt.start_workflow(workflow_identifier="wf", namespace=ns)
    wait_done(db, ex2["id"], want=frozenset({"RUNNING"}))
    cancelled = rt.set_workflow_state(ex2["id"], "CANCELLED", "enough")
    assert cancelled["state"] == "CANCELLED"
    assert cancelled["output"] == {"result": "enough"}
    assert tasks(db, ex2["id"])["a"]["state_info"] == "enough"
    time.sleep(0.5)
    assert wait_done(db, ex2["id"])["state"] == "CANCELLED"
    assert "b" not in task_states(db, ex2["id"])


def test_pause_before(db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str) -> None:
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    a:
      action: std.noop
      on-success: b
    b:
      action: std.noop
      pause-before: true
""")
    ex = rt.start_workflow(workflow_identifier="wf", namespace=ns)
    row = wait_done(db, ex["id"], want=frozenset({"PAUSED", "SUCCESS"}))
    assert row["state"] == "PAUSED"
    assert task_states(db, ex["id"])["b"] == "IDLE"
    rt.set_workflow_state(ex["id"], "RUNNING")
    assert wait_done(db, ex["id"])["state"] == "SUCCESS"


def test_async_action_completed_by_put(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    a:
      action: std.async_noop
      publish: {got: <% task().result %>}
""")
    ex = rt.start_workflow(workflow_identifier="wf", namespace=ns)
    import time

    deadline = time.monotonic() + 5
    action = None
    while time.monotonic() < deadline:
        t = tasks(db, ex["id"]).get("a")
        if t is not None:
            with db.connect() as conn:
                found = store.actions_of_task(conn, t["id"])
            if found and found[0]["accepted"]:
                action = found[0]
                break
        time.sleep(0.02)
    assert action is not None
    rt.complete_action_execution(action["id"], "SUCCESS", {"result": "later"})
    done = wait_done(db, ex["id"])
    assert done["state"] == "SUCCESS"
    assert done["output"]["got"] == "later"


def test_rerun_and_skip(db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str) -> None:
    define(db, ns, """
version: '2.0'
wf:
  input: [ok]
  tasks:
    a:
      action: std.echo output=<% env().get(value, 0) %>
      fail-on: <% task().result = 0 %>
      on-success: b
    b:
      action: std.noop
""")
    ex = run(rt, ns, "wf", {"ok": 1})
    assert ex["state"] == "ERROR"
    a = tasks(db, ex["id"])["a"]
    rt.rerun_task(a["id"], reset=True, env={"value": 3})
    done = wait_done(db, ex["id"])
    assert done["state"] == "SUCCESS", done["state_info"]
    assert task_states(db, ex["id"]) == {"a": "SUCCESS", "b": "SUCCESS"}

    ex = run(rt, ns, "wf", {"ok": 1})
    a = tasks(db, ex["id"])["a"]
    rt.skip_task(a["id"])
    done = wait_done(db, ex["id"])
    assert done["state"] == "SUCCESS"
    assert task_states(db, ex["id"]) == {"a": "SKIPPED", "b": "SUCCESS"}


def test_idempotent_start_and_bad_input(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    import pytest

    define(db, ns, """
version: '2.0'
wf:
  input: [x]
  tasks:
    a:
      action: std.noop
""")
    first = rt.start_workflow(workflow_identifier="wf", namespace=ns, input={"x": 1},
                                   execution_id="11111111-2222-3333-4444-555555555555")
    again = rt.start_workflow(workflow_identifier="wf", namespace=ns, input={"x": 1},
                                   execution_id="11111111-2222-3333-4444-555555555555")
    assert first["id"] == again["id"]
    with pytest.raises(runtime.InputError, match="missing required parameter"):
        rt.start_workflow(workflow_identifier="wf", namespace=ns, input={})
    with pytest.raises(runtime.NotFound):
        rt.start_workflow(workflow_identifier="nope")


def test_run_action_alone(db: Engine, rt: EngineRuntime) -> None:
    result = rt.run_action("std.echo", {"output": "hi"})
    assert result["state"] == "SUCCESS"
    assert result["output"] == {"result": "hi"}
    with db.connect() as conn:
        assert store.get_action(conn, result["id"])["output"] == {"result": "hi"}
    failed = rt.run_action("std.fail", {})
    assert failed["state"] == "ERROR"
    import pytest

    with pytest.raises(runtime.InputError):
        rt.run_action("std.echo", {"nope": 1})


def test_outbox_events_written_when_notify(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    a:
      action: std.noop
""")
    ex = run(rt, ns, "wf", params={"notify": [{"type": "webhook", "url": "http://x"}]})
    with db.connect() as conn:
        events = [e["event"] for e in store.events_of(conn, ex["id"])]
    assert events == ["WORKFLOW_LAUNCHED", "TASK_LAUNCHED", "TASK_SUCCEEDED",
                      "WORKFLOW_SUCCEEDED"]
    ex = run(rt, ns, "wf")
    with db.connect() as conn:
        assert store.events_of(conn, ex["id"]) == []


def test_on_complete_does_not_handle_error_but_noop_does(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str
) -> None:
    define(db, ns, """
version: '2.0'
completes:
  tasks:
    a:
      action: std.fail
      on-complete: b
    b:
      action: std.noop
ignores:
  tasks:
    a:
      action: std.fail
      on-error: noop
""")
    ex = run(rt, ns, "completes")
    assert ex["state"] == "ERROR"
    assert task_states(db, ex["id"]) == {"a": "ERROR", "b": "SUCCESS"}
    ex = run(rt, ns, "ignores")
    assert ex["state"] == "SUCCESS"


def test_pause_command_then_resume(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    a:
      action: std.noop
      on-success:
        - pause msg="check please"
        - b
    b:
      action: std.noop
""")
    ex = rt.start_workflow(workflow_identifier="wf", namespace=ns)
    ex = wait_done(db, ex["id"], want=frozenset({"PAUSED", "SUCCESS"}))
    assert ex["state"] == "PAUSED"
    assert ex["state_info"] == "check please"
    assert task_states(db, ex["id"]) == {"a": "SUCCESS"}
    rt.set_workflow_state(ex["id"], "RUNNING")
    assert wait_done(db, ex["id"])["state"] == "SUCCESS"
    assert task_states(db, ex["id"]) == {"a": "SUCCESS", "b": "SUCCESS"}


def test_many_instant_retries(db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str) -> None:
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    t:
      action: std.fail
      retry:
        count: 300
        delay: 0
""")
    ex = run(rt, ns, "wf")
    assert ex["state"] == "ERROR"
    t = tasks(db, ex["id"])["t"]
    assert t["runtime_context"]["retry_no"] == 300


def test_retry_continue_on(db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str) -> None:
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    t:
      action: std.echo output=<% len(tasks(execution().id)) %>
      retry:
        count: 3
        delay: 0
        continue-on: <% true %>
""")
    ex = run(rt, ns, "wf")
    assert ex["state"] == "SUCCESS"
    with db.connect() as conn:
        t = tasks(db, ex["id"])["t"]
        assert len(store.actions_of_task(conn, t["id"])) == 4


def test_run_action_async_and_in_background(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker,
) -> None:
    import time

    pending = rt.run_action("std.async_noop", {})
    assert pending["state"] == "RUNNING"
    done = rt.complete_action_execution(pending["id"], "SUCCESS", {"result": 7})
    assert done["state"] == "SUCCESS"
    with db.connect() as conn:
        assert store.get_action(conn, pending["id"])["output"] == {"result": 7}
    import pytest

    with pytest.raises(runtime.InvalidStateTransition, match="has already ended"):
        rt.complete_action_execution(pending["id"], "SUCCESS", {"result": 8})

    queued = rt.run_action("std.echo", {"output": "bg", "delay": 0.05},
                                {"run_sync": False})
    assert queued["state"] == "RUNNING"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with db.connect() as conn:
            row = store.get_action(conn, queued["id"])
        if row["state"] != "RUNNING":
            break
        time.sleep(0.02)
    assert row["state"] == "SUCCESS"
    assert row["output"] == {"result": "bg"}


def test_loop_with_a_counter(db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str) -> None:
    define(db, ns, """
version: '2.0'
wf:
  output: {i: <% $.i %>}
  tasks:
    init:
      action: std.noop
      publish: {i: 0}
      on-success: inc
    inc:
      action: std.noop
      publish: {i: <% $.i + 1 %>}
      on-success:
        - inc: <% $.i < 3 %>
        - done: <% $.i >= 3 %>
    done:
      action: std.noop
""")
    ex = run(rt, ns, "wf")
    assert ex["state"] == "SUCCESS", ex["state_info"]
    assert ex["output"] == {"i": 3}
    with db.connect() as conn:
        names = [t["name"] for t in store.tasks_of(conn, ex["id"])]
    assert names == ["init", "inc", "inc", "inc", "done"]


def test_delete_execution(db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str) -> None:
    import pytest

    define(db, ns, """
version: '2.0'
wf:
  tasks:
    t: {action: std.async_noop}
""")
    ex = rt.start_workflow(workflow_identifier="wf", namespace=ns)
    with pytest.raises(runtime.InvalidStateTransition, match="Only completed executions"):
        rt.delete_execution(ex["id"])
    rt.delete_execution(ex["id"], force=True)
    with db.connect() as conn:
        assert store.get_workflow(conn, ex["id"]) is None
        assert store.tasks_of(conn, ex["id"]) == []
    with pytest.raises(runtime.NotFound):
        rt.delete_execution(ex["id"])
