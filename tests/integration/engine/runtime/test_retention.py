"""Retention on the engine: finished workflow trees go whole; live or undelivered stay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func, select, update

from levante.db.metadata import all_metadata
from levante.db.times import now
from levante.engine import runtime, states
from levante.engine.retention import purge_engine
from levante.retention import Policy

from .harness import ThreadWorker, define, run, wait_done

FLOWS = """
version: '2.0'
child:
  tasks:
    work:
      action: std.noop
parent:
  tasks:
    call:
      workflow: child
      on-success: after
    after:
      action: std.echo output=done
broken:
  tasks:
    boom:
      action: std.fail
waiting:
  tasks:
    later:
      action: std.noop
      wait-before: 600
"""


def _age(db: Engine, roots: list[str], days: float) -> None:
    wf = all_metadata().tables["workflow_executions"]
    shift = timedelta(days=days)
    with db.begin() as conn:
        for row in conn.execute(select(wf).where(wf.c.root_execution_id.in_(roots))).all():
            conn.execute(update(wf).where(wf.c.id == row.id).values(
                created_at=row.created_at - shift,
                updated_at=row.updated_at - shift if row.updated_at else None))


def _rows(db: Engine, table: str, roots: list[str]) -> int:
    t = all_metadata().tables[table]
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t)
                                .where(t.c.root_execution_id.in_(roots))).scalar_one())


def test_finished_trees_go_whole_and_nothing_live_or_undelivered(
        db: Engine, worker: ThreadWorker, ns: str) -> None:
    define(db, ns, FLOWS)
    done = run(db, ns, "parent")["id"]
    failed = run(db, ns, "broken")["id"]
    undelivered = run(db, ns, "parent")["id"]
    waiting = runtime.start_workflow(db, workflow_identifier="waiting", namespace=ns)["id"]
    wait_done(db, waiting, want=frozenset({states.RUNNING}))
    roots = [done, failed, undelivered, waiting]
    assert _rows(db, "workflow_executions", [done]) == 2  # parent and its sub-workflow
    assert _rows(db, "task_executions", [done]) == 3
    events = all_metadata().tables["engine_events"]
    with db.begin() as conn:
        conn.execute(events.insert().values(
            execution_id=undelivered, root_execution_id=undelivered, event="X",
            payload={}, created_at=now(), attempts=0))
    _age(db, roots, 40)

    counts = purge_engine(db, Policy(executions_days=30, status_days={"failed": 60},
                                     batch_size=1))

    assert counts["workflow executions"] == 2
    assert _rows(db, "workflow_executions", [done]) == 0
    assert _rows(db, "task_executions", [done]) == 0
    assert _rows(db, "workflow_executions", [failed, undelivered, waiting]) == 4

    counts = purge_engine(db, Policy(executions_days=30))
    assert counts["workflow executions"] == 1
    assert _rows(db, "workflow_executions", [failed]) == 0
    assert _rows(db, "workflow_executions", [undelivered, waiting]) == 3

