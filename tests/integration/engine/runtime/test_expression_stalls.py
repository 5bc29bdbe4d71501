"""No expression can stall the engine; a report that stops it is set aside (issue 9, point 2).

A real `levante serve engine` process: runaway expressions (huge powers, catastrophic
regular expressions, giant paddings) fail their task within their time bound while a
workflow started at the same time succeeds and the API keeps answering; a report whose
processing stops the engine again and again is set aside after `max_step_attempts`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from levante.db.connect import make_engine
from levante.engine.core.runtime import EngineRuntime
from levante.engine.models import engine_jobs
from levante.engine.store import executions as store
from levante.identity.keys import create_api_key
from tests.conftest import drop_postgres_database, postgres_server_url
from tests.harness import migrated_database, migrated_sqlite

from .harness import define, wait_done
from .processes import EngineProcess

# name -> (expression, words its task's state_info must hold)
RUNAWAY = {
    "yaql_pow": ("<% pow(9, pow(9, 9)) %>", "more than 14000 bits"),
    "yaql_shift": ("<% shiftBitsLeft(1, 10000000000) %>", "more than 14000 bits"),
    "yaql_regex": ("<% regex('(a+)+$').matches('a' * 5000 + '!') %>", "time"),
    "yaql_matches": ("<% ('x' * 5000).matches('(x+x+)+y') %>", "time"),
    "yaql_repeat": ("<% 'x' * 100000000 %>", "memory"),
    "jinja_pow": ("{{ 9 ** 999 ** 999 }}", "more than 14000 bits"),
    "jinja_regex": ("{{ ('a' * 5000 + '!') is search('(a+)+$') }}", "time"),
    "jinja_regex_replace": ("{{ ('a' * 5000 + '!') | regex_replace('(a|aa)+$', '') }}",
                            "time"),
    "jinja_repeat": ("{{ 'x' * 100000000 }}", "too large"),
    "jinja_format": ("{{ '{:>999999999}'.format(1) }}", "limit of 1000000"),
    "jinja_percent": ("{{ '%999999999d' % 1 }}", "limit of 1000000"),
    "jinja_center": ("{{ 'a' | center(999999999) }}", "limit of 1000000"),
    "jinja_shared_list": ("{{ ([[1] * 1000000] * 1000000) | string }}",
                          "more than 1000000 values"),
    "yaql_shared_list": ("<% str(let(a => range(10000).toList()) -> [$a] * 900000) %>",
                         "more than 1000000 values"),
}


def _workflows() -> str:
    lines = ["version: '2.0'"]
    for name, (expression, _) in RUNAWAY.items():
        quoted = expression.replace('"', '\\"')
        lines += [f"{name}:", "  tasks:", "    t:", "      action: std.noop",
                  f'      publish: {{x: "{quoted}"}}']
    lines += ["healthy:", "  tasks:", "    a:", "      action: std.echo output=fine delay=0.5",
              "      publish: {x: <% task().result %>}", "      on-success: b",
              "    b:", "      action: std.echo output=<% $.x %>"]
    return "\n".join(lines) + "\n"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        u = f"sqlite:///{tmp_path / 'levante.sqlite'}"
        migrated_sqlite(u)
        yield u
        return
    if not postgres_server_url():
        pytest.skip("PostgreSQL tests need LEVANTE_TEST_POSTGRES_URL")
    u = migrated_database(str(postgres_server_url()))
    try:
        yield u
    finally:
        drop_postgres_database(u)


@pytest.fixture
def db(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _engine(url: str, folder: Path, **options: Any) -> EngineProcess:
    engine = EngineProcess(url, folder)
    extra = "".join(f"{k} = {v}\n" for k, v in options.items())
    engine.config.write_text(engine.config.read_text().replace("[engine]\n",
                                                               f"[engine]\n{extra}"))
    return engine


def _task(db: Engine, ex_id: str, name: str) -> dict[str, Any]:
    with db.connect() as conn:
        return next(t for t in store.tasks_of(conn, ex_id) if t["name"] == name)


@pytest.mark.slow
def test_runaway_expressions_fail_their_task_while_the_engine_answers(
    db: Engine, url: str, tmp_path: Path,
) -> None:
    define(db, "", _workflows())
    engine = _engine(url, tmp_path, expression_timeout=0.5).start()
    try:
        started = time.monotonic()
        base = f"http://127.0.0.1:{engine.port}/v2"
        auth = {"X-Auth-Token": create_api_key(db, "stall-tester")[0]}
        ids: dict[str, str] = {}

        def launch(name: str) -> None:  # on the engine: it evaluates the expressions
            answer = httpx.post(f"{base}/executions", json={"workflow_name": name},
                                headers=auth, timeout=120)
            assert answer.status_code == 201, answer.text
            ids[name] = answer.json()["id"]

        launchers = [threading.Thread(target=launch, args=(name,))
                     for name in [*RUNAWAY, "healthy"]]
        for thread in launchers:
            thread.start()
        while "healthy" not in ids:
            assert time.monotonic() - started < 60, "the healthy workflow was not started"
            time.sleep(0.05)
        for thread in launchers:
            thread.join(120)
        assert set(ids) == {*RUNAWAY, "healthy"}, ids
        good = ids.pop("healthy")
        bad = ids
        pending = set(bad.values()) | {good}
        while pending:
            # The API answers all along (a frozen process would time this out).
            answer = httpx.get(f"{base}/executions/{good}", headers=auth, timeout=10)
            assert answer.status_code == 200, answer.text
            with db.connect() as conn:
                pending = {i for i in pending
                           if store.get_workflow(conn, i)["state"] in ("RUNNING", "IDLE")}
            assert time.monotonic() - started < 180, f"still running: {pending}"
            time.sleep(0.1)
        done = wait_done(db, good)
        assert done["state"] == "SUCCESS", done["state_info"]
        for name, ex_id in bad.items():
            expression, words = RUNAWAY[name]
            assert wait_done(db, ex_id)["state"] == "ERROR", name
            info = str(_task(db, ex_id, "t")["state_info"])
            assert expression in info and words in info, (name, info)
    finally:
        engine.stop()


SLOW_REPORT = """
version: '2.0'
poisoned:
  tasks:
    waits:
      action: std.async_noop
      publish:
        total: <% range(0, 1000000000000).sum() %>
      on-error: cleanup
    cleanup:
      action: std.noop
"""


def _action_jobs(db: Engine, ex_id: str) -> int:
    """The action jobs of workflow execution ``ex_id`` not yet done by the engine."""
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(engine_jobs).where(
            engine_jobs.c.execution_id == ex_id, engine_jobs.c.kind == "action")).scalar_one())


def _attempts(db: Engine, action_id: str) -> int:
    with db.connect() as conn:
        action = store.get_action(conn, action_id)
    assert action is not None
    return int((action.get("runtime_context") or {}).get("report_attempts") or 0)


@pytest.mark.slow
def test_a_report_that_stops_the_engine_is_set_aside(
    db: Engine, url: str, tmp_path: Path,
) -> None:
    """The report of the end of an action whose publish runs long is sent while the engine
    processes it, and the engine killed, twice; the third time it is set aside: the task
    fails with the reason, without running the expression again, and the workflow goes on
    by its on-error."""
    rt = EngineRuntime(db)
    define(db, "", SLOW_REPORT)
    engine = _engine(url, tmp_path, expression_timeout=120, max_step_attempts=2).start()
    try:
        ex_id = rt.start_workflow(workflow_identifier="poisoned")["id"]
        deadline = time.monotonic() + 20
        while True:
            with db.connect() as conn:
                tasks = store.tasks_of(conn, ex_id)
                actions = store.actions_of_task(conn, tasks[0]["id"]) if tasks else []
            # Started: its job is done and it waits for its result. (A report sent while
            # the job is still held would meet, after the kill, a job of a dead engine.)
            if actions and not _action_jobs(db, ex_id):
                break
            assert time.monotonic() < deadline, "the action never started"
            time.sleep(0.05)
        action_id = actions[0]["id"]
        body = {"state": "SUCCESS", "output": {"result": "done"}}
        auth = {"X-Auth-Token": create_api_key(db, "stall-tester")[0]}

        answers: list[str] = []

        def report() -> httpx.Response | None:
            url_ = f"http://127.0.0.1:{engine.port}/v2/action_executions/{action_id}"
            try:
                answer = httpx.put(url_, json=body, headers=auth, timeout=60)
            except httpx.HTTPError as exc:
                answers.append(repr(exc))
                return None  # the engine was killed under it
            answers.append(f"{answer.status_code} {answer.text[:300]}")
            return answer

        for attempt in (1, 2):
            sender = threading.Thread(target=report)
            sender.start()
            deadline = time.monotonic() + 60  # (a hang guard: generous on a busy machine)
            while _attempts(db, action_id) < attempt:
                assert time.monotonic() < deadline, f"the report was never taken up: {answers}"
                if not sender.is_alive():  # answered without being taken up: send it again
                    sender = threading.Thread(target=report)
                    sender.start()
                time.sleep(0.05)
            time.sleep(0.5)  # inside the long publish now
            engine.kill()
            sender.join(10)
            assert _task(db, ex_id, "waits")["state"] == "RUNNING"
            engine.start()
        answer = report()
        assert answer is not None and answer.status_code == 200, answer
        assert answer.json()["state"] == "ERROR"
        done = wait_done(db, ex_id, timeout=30)
        assert done["state"] == "SUCCESS", done["state_info"]  # on-error: cleanup
        task = _task(db, ex_id, "waits")
        assert task["state"] == "ERROR"
        assert "set aside" in str(task["state_info"]), task["state_info"]
        assert "2 times" in str(task["state_info"]), task["state_info"]
        assert _task(db, ex_id, "cleanup")["state"] == "SUCCESS"
        assert _attempts(db, action_id) == 3
        # Another report of the same end is acknowledged as already known.
        again = report()
        assert again is not None and again.status_code in (400, 409), again
    finally:
        engine.stop()


SLOW_STEP = """
version: '2.0'
stuck_step:
  tasks:
    later:
      wait-before: 1
      action: std.echo output=<% range(0, 1000000000000).sum() %>
      on-error: cleanup
    cleanup:
      action: std.noop
"""


def _step_attempts(db: Engine, ex_id: str) -> int:
    with db.connect() as conn:
        found = conn.execute(select(engine_jobs.c.attempts).where(
            engine_jobs.c.execution_id == ex_id, engine_jobs.c.kind == "step")).all()
    return max((int(r[0]) for r in found), default=0)


@pytest.mark.slow
def test_a_step_that_stops_the_engine_is_set_aside(
    db: Engine, url: str, tmp_path: Path,
) -> None:
    """The timer of a wait-before runs a long expression; the engine is killed in it twice;
    the third time the step is set aside and the workflow fails with the reason."""
    rt = EngineRuntime(db)
    define(db, "", SLOW_STEP)
    engine = _engine(url, tmp_path, expression_timeout=120, max_step_attempts=2).start()
    try:
        ex_id = rt.start_workflow(workflow_identifier="stuck_step")["id"]
        for attempt in (1, 2):
            deadline = time.monotonic() + 30
            while _step_attempts(db, ex_id) < attempt:
                assert time.monotonic() < deadline, "the step was never taken up"
                time.sleep(0.05)
            time.sleep(0.5)  # inside the long expression now
            engine.kill()
            with db.connect() as conn:
                assert store.get_workflow(conn, ex_id)["state"] == "RUNNING"
            engine.start()
        done = wait_done(db, ex_id, timeout=30)
        assert done["state"] == "ERROR"
        assert "set aside" in str(done["state_info"]), done["state_info"]
        assert "2 times" in str(done["state_info"]), done["state_info"]
        with db.connect() as conn:
            assert store.count_jobs(conn) == 0
        # The engine goes on with other work.
        define(db, "", "version: '2.0'\nfine:\n  tasks:\n    a:\n      action: std.noop\n"
                       "      wait-before: 1\n")
        fine = rt.start_workflow(workflow_identifier="fine")["id"]
        assert wait_done(db, fine, timeout=30)["state"] == "SUCCESS"
    finally:
        engine.stop()


RERUN = """
version: '2.0'
rerun:
  tasks:
    long:
      action: std.echo output=null delay=120
      safe-rerun: true
      on-error: cleanup
    cleanup:
      action: std.noop
"""


def _runs(db: Engine, ex_id: str) -> int:
    with db.connect() as conn:
        tasks = store.tasks_of(conn, ex_id)
        actions = store.actions_of_task(conn, tasks[0]["id"]) if tasks else []
    return max((int((a["runtime_context"] or {}).get("runs") or 0) for a in actions),
               default=0)


@pytest.mark.slow
def test_a_safe_rerun_action_whose_engine_stops_is_not_run_for_ever(
    db: Engine, url: str, tmp_path: Path,
) -> None:
    rt = EngineRuntime(db)
    define(db, "", RERUN)
    engine = _engine(url, tmp_path, max_step_attempts=2).start()
    try:
        ex_id = rt.start_workflow(workflow_identifier="rerun")["id"]
        for run in (1, 2):
            deadline = time.monotonic() + 30
            while _runs(db, ex_id) < run:
                assert time.monotonic() < deadline, f"run {run} never started"
                time.sleep(0.05)
            time.sleep(0.3)
            engine.kill()
            engine.start()
        done = wait_done(db, ex_id, timeout=60)
        assert done["state"] == "SUCCESS", done["state_info"]  # on-error: cleanup
        task = _task(db, ex_id, "long")
        assert task["state"] == "ERROR"
        assert "started 2 times" in str(task["state_info"]), task["state_info"]
        assert _runs(db, ex_id) == 2
    finally:
        engine.stop()
