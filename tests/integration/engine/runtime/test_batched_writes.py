"""The new rows of a step are written in one round trip on PostgreSQL (`write_batch`), with
SQLAlchemy's errors, however many rows a step makes."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from levante.engine.core import runtime
from levante.engine.core.runtime import EngineRuntime
from levante.engine.models import action_executions
from levante.engine.store import definitions
from levante.engine.store import executions as store

from .harness import ThreadWorker, define, run


def test_batched_insert_errors_are_sqlalchemy_errors(
    db: Engine, rt: EngineRuntime, ns: str,
) -> None:
    """New rows go in one round trip on PostgreSQL (a pipeline); a failing insert there still
    raises SQLAlchemy's IntegrityError (the API maps it to 409) and writes nothing."""
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    t:
      action: std.noop
""")
    ex = rt.start_workflow(workflow_identifier="wf", namespace=ns)
    with db.connect() as conn:
        row = store.get_workflow(conn, ex["id"])
    assert row is not None
    with pytest.raises(IntegrityError), runtime.writer(db) as conn:
        store.write_executions(conn, [row], [], [], store.stamp_reads(
            conn.dialect.name, "wf", ns, False))
    with db.connect() as conn:
        assert store.get_workflow(conn, ex["id"]) is not None


def test_many_new_rows_in_one_step(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str,
) -> None:
    """3,300 inline items: more action rows (x 20 columns) than one PostgreSQL statement may
    carry parameters for (65,535), all written by one step."""
    define(db, ns, """
version: '2.0'
wf:
  tasks:
    t:
      with-items: i in <% range(3300) %>
      action: std.echo output=<% $.i %>
      publish:
        total: <% task().result.sum() %>
""")
    ex = run(rt, ns, "wf", timeout=60)
    assert ex["state"] == "SUCCESS", ex["state_info"]
    assert ex["output"]["total"] == sum(range(3300))
    with db.connect() as conn:
        count = conn.execute(select(func.count()).select_from(action_executions).where(
            action_executions.c.workflow_execution_id == ex["id"])).scalar()
    assert count == 3300


def test_start_checks_a_cached_definition_before_refusing_input(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str
) -> None:
    """A start uses the cached definition and checks it with its writes; input refused by a
    cached definition that has changed since is checked against the current one."""
    text = "version: '2.0'\nwf:\n  input: %s\n  output: {n: <%% len($) %%>}\n" \
           "  tasks:\n    t: {action: std.noop}\n"
    define(db, ns, text % "[a]")
    assert run(rt, ns, "wf", input={"a": 1})["state"] == "SUCCESS"
    with runtime.writer(db) as conn:
        definitions.update_workflows(conn, text % "[a, b]", namespace=ns)
    ex = run(rt, ns, "wf", input={"a": 1, "b": 2})
    assert ex["state"] == "SUCCESS", ex["state_info"]
    with pytest.raises(runtime.InputError, match="bogus"):
        rt.start_workflow(workflow_identifier="wf", namespace=ns,
                               input={"a": 1, "bogus": 2})
