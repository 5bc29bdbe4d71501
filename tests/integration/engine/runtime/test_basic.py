from __future__ import annotations

from sqlalchemy import Engine

from levante.engine.core.runtime import EngineRuntime

from .harness import ThreadWorker, define, run, task_states, tasks

CHAIN = """
version: '2.0'
chain:
  input: [name]
  output:
    greeting: <% $.greeting %>
  tasks:
    t1:
      action: std.noop
      on-success: t2
    t2:
      action: std.echo output="Hello <% $.name %>"
      publish:
        greeting: <% task().result %>
      on-success: t3
    t3:
      action: std.noop
"""


def test_sequential_chain(db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str) -> None:
    define(db, ns, CHAIN)
    ex = run(rt, ns, "chain", {"name": "Ann"})
    assert ex["state"] == "SUCCESS", ex["state_info"]
    assert ex["output"] == {"greeting": "Hello Ann"}
    assert task_states(db, ex["id"]) == {"t1": "SUCCESS", "t2": "SUCCESS", "t3": "SUCCESS"}
    assert tasks(db, ex["id"])["t2"]["published"] == {"greeting": "Hello Ann"}


def test_new_executions_follow_definition_changes(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str
) -> None:
    import pytest

    from levante.engine.core import runtime
    from levante.engine.store import definitions

    text = "version: '2.0'\nwf:\n  output: {v: %s}\n  tasks:\n    t: {action: std.noop}\n"
    define(db, ns, text % 1)
    assert run(rt, ns, "wf")["output"] == {"v": 1}
    with runtime.writer(db) as conn:
        definitions.update_workflows(conn, text % 2, namespace=ns)
    assert run(rt, ns, "wf")["output"] == {"v": 2}
    with runtime.writer(db) as conn:
        definitions.update_workflows(conn, text % 3, namespace=ns)
    assert run(rt, ns, "wf")["output"] == {"v": 3}
    with runtime.writer(db) as conn:
        definitions.delete_workflow(conn, "wf", namespace=ns)
    with pytest.raises(runtime.NotFound):
        rt.start_workflow(workflow_identifier="wf", namespace=ns)


def test_a_stopped_worker_closes_its_runtimes_datastore_client(db: Engine) -> None:
    """The kept-alive connections of st2kv() reads go with the engine's worker."""
    own = EngineRuntime(db)
    client = own.shared.datastore._http()
    ThreadWorker(own, poll_interval=0.2).start().stop()
    assert client.is_closed
