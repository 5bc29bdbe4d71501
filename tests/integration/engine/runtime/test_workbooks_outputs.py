"""Workbooks named like StackStorm actions (`pack.action`) and the output of a workflow
without an `output` section or that fails, pinned to what Mistral 23 gives (the same
definitions run on the reference in tests/reference/test_mistral_differential.py)."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, select

from levante.engine.core import runtime
from levante.engine.core.runtime import EngineRuntime
from levante.engine.definitions_models import workflow_definitions
from levante.engine.store import definitions

from .harness import ThreadWorker, define, run, tasks

WORKBOOK = """
version: '2.0'
name: mypack.mywb
workflows:
  main:
    input: [name]
    tasks:
      short:
        workflow: sub
        input: {v: short}
        publish: {s: <% task().result.got %>}
        on-success: full
      full:
        workflow: mypack.mywb.sub
        input: {v: full}
        publish: {f: <% task().result.got %>}
        on-success: dynamic
      dynamic:
        workflow: <% $.name %>
        input: {v: dynamic}
        publish: {d: <% task().result.got %>}
  sub:
    input: [v]
    output: {got: <% $.v %>}
    tasks:
      t:
        action: std.noop
"""


def _members(conn: Connection, ns: str) -> list[str]:
    rows = conn.execute(select(workflow_definitions.c.name).where(
        workflow_definitions.c.workbook_name == "mypack.mywb",
        workflow_definitions.c.namespace == ns)).scalars()
    return sorted(rows)


def _workbook(db: Engine, ns: str, text: str) -> None:
    with runtime.writer(db) as conn:
        definitions.create_workbook(conn, text, namespace=ns)


def test_pack_action_workbook_names_and_references(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str
) -> None:
    _workbook(db, ns, WORKBOOK)
    with db.connect() as conn:
        names = _members(conn, ns)
    assert names == ["mypack.mywb.main", "mypack.mywb.sub"]
    done = run(rt, ns, "mypack.mywb.main", {"name": "sub"})
    assert done["state"] == "SUCCESS", done["state_info"]
    assert done["workflow_name"] == "mypack.mywb.main"
    assert done["output"] == {"s": "short", "f": "full", "d": "dynamic"}


def test_workbook_update_keeps_the_full_names(db: Engine, rt: EngineRuntime, worker: ThreadWorker,
                                              ns: str) -> None:
    _workbook(db, ns, WORKBOOK)
    with runtime.writer(db) as conn:
        definitions.update_workbook(conn, WORKBOOK.replace("got: <% $.v %>", "got: x"),
                                    namespace=ns)
    with db.connect() as conn:
        names = _members(conn, ns)
    assert names == ["mypack.mywb.main", "mypack.mywb.sub"]
    assert run(rt, ns, "mypack.mywb.main", {"name": "sub"})["output"] == {
        "s": "x", "f": "x", "d": "x"}


# Results of Mistral 23.0.0 for these definitions (run with input {"a": "A"}).
NO_OUTPUT = """
version: '2.0'
no_output:
  input: [a, b: 2]
  vars: {v: 10}
  tasks:
    t1:
      action: std.echo output=<% $.a %>
      publish: {x: <% task().result %>, y: {n: 1}}
      on-success: t2
    t2:
      action: std.noop
      publish: {z: <% $.x %>-z}
plain_ok_no_publish:
  input: [a]
  tasks:
    t1:
      action: std.noop
fails_no_output:
  input: [a]
  output: {never: <% $.x %>}
  tasks:
    t1:
      action: std.echo output=<% $.a %>
      publish: {x: <% task().result %>}
      on-success: t2
    t2:
      action: std.fail
fails_on_error_output:
  input: [a]
  output-on-error: {got: <% $.x %>, also: static}
  tasks:
    t1:
      action: std.echo output=<% $.a %>
      publish: {x: <% task().result %>}
      on-success: t2
    t2:
      action: std.fail
      publish-on-error: {err: <% task().result %>}
fails_publishing_result:
  input: [a]
  tasks:
    t1:
      action: std.noop
      publish: {result: mine, keep: <% $.a %>}
      on-success: t2
    t2:
      action: std.fail
"""


def test_output_without_output_section_is_the_published_values(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str
) -> None:
    define(db, ns, NO_OUTPUT)
    done = run(rt, ns, "no_output", {"a": "A"})
    assert done["state"] == "SUCCESS"
    # Mistral: neither the input nor `vars`, only what the tasks published
    assert done["output"] == {"x": "A", "y": {"n": 1}, "z": "A-z"}
    assert run(rt, ns, "plain_ok_no_publish", {"a": "A"})["output"] == {}


def test_output_on_error_is_the_message_and_the_context(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str
) -> None:
    define(db, ns, NO_OUTPUT)
    failed = run(rt, ns, "fails_no_output", {"a": "A"})
    assert failed["state"] == "ERROR"
    # `output` does not apply on error; without `output-on-error`, the published values
    assert set(failed["output"]) == {"result", "x"}
    assert failed["output"]["x"] == "A"
    assert failed["output"]["result"] == failed["state_info"]
    assert failed["state_info"].startswith("Failure caused by error in tasks: t2\n")

    on_error = run(rt, ns, "fails_on_error_output", {"a": "A"})
    assert on_error["state"] == "ERROR"
    assert set(on_error["output"]) == {"result", "got", "also"}
    assert on_error["output"]["got"] == "A" and on_error["output"]["also"] == "static"
    assert on_error["output"]["result"] == on_error["state_info"]
    published = tasks(db, on_error["id"])["t2"]["published"]
    assert set(published) == {"err"}


def test_a_published_result_wins_over_the_message_on_error(
    db: Engine, rt: EngineRuntime, worker: ThreadWorker, ns: str
) -> None:
    define(db, ns, NO_OUTPUT)
    failed = run(rt, ns, "fails_publishing_result", {"a": "A"})
    assert failed["state"] == "ERROR"
    assert failed["output"] == {"result": "mine", "keep": "A"}  # Mistral 23's merge
