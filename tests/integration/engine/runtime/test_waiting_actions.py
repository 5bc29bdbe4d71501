"""Actions that only wait (std.sleep) are timers in the database.

They hold no worker slot: with two slots and a dozen sleeping workflows, a workflow whose
action needs a slot runs at once, and the sleepers still end together.
"""

from __future__ import annotations

import http.server
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from levante.db.metadata import all_metadata
from levante.engine import states
from levante.engine.core.runtime import EngineRuntime
from tests.harness import serve_http

from .harness import ThreadWorker, define, tasks, wait_done

FLOWS = """
version: '2.0'
sleeper:
  tasks:
    nap:
      action: std.sleep seconds=3
      publish: {slept: true}
      on-success: echo
    echo:
      action: std.sleep seconds=0.5
      publish: {said: awake}
quick:
  input: [url]
  tasks:
    call:
      action: std.http url=<% $.url %>
"""


@pytest.fixture
def http_url() -> Iterator[str]:
    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    with serve_http(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)) as url:
        yield f"{url}/"


def test_sleeping_tasks_hold_no_worker_and_end_together(db: Engine, rt: EngineRuntime, ns: str,
                                                        http_url: str) -> None:
    worker = ThreadWorker(rt, workers=2, poll_interval=0.05).start()
    try:
        define(db, ns, FLOWS)
        sleepers = [rt.start_workflow(workflow_identifier="sleeper",
                                           namespace=ns)["id"] for _ in range(12)]
        for ident in sleepers:
            wait_done(db, ident, want=frozenset({states.RUNNING}))
        quick = rt.start_workflow(workflow_identifier="quick", namespace=ns,
                                       input={"url": http_url})["id"]
        assert wait_done(db, quick, timeout=20)["state"] == states.SUCCESS
        # The quick one did not wait for a slot: every sleeper still sleeps.
        assert {tasks(db, s)["nap"]["state"] for s in sleepers} == {states.RUNNING}
        jobs = all_metadata().tables["engine_jobs"]
        with db.connect() as conn:
            waiting = conn.execute(select(jobs.c.kind, jobs.c.claimed_by).where(
                jobs.c.root_execution_id.in_(sleepers))).all()
        assert len(waiting) == 12
        assert {(kind, claimed) for kind, claimed in waiting} == {("step", None)}
        for ident in sleepers:
            done = wait_done(db, ident, timeout=30)
            assert done["state"] == states.SUCCESS
            assert tasks(db, ident)["echo"]["published"] == {"said": "awake"}
    finally:
        worker.stop()


def test_a_canceled_sleep_stays_canceled(db: Engine, rt: EngineRuntime, worker: ThreadWorker,
                                        ns: str) -> None:
    define(db, ns, FLOWS)
    ident = rt.start_workflow(workflow_identifier="sleeper", namespace=ns)["id"]
    wait_done(db, ident, want=frozenset({states.RUNNING}))
    rt.set_workflow_state(ident, states.CANCELLED)
    assert wait_done(db, ident)["state"] == states.CANCELLED
    assert tasks(db, ident)["nap"]["state"] == states.CANCELLED
