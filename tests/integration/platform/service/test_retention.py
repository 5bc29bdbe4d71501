"""Retention of the platform's history: old finished trees go, nothing live or referenced.

Executions are made through the API (real runs, real output), then aged by moving their
timestamps back, and purged by the store, by `levante-db-manage purge` and by the
`garbagecollector` role.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import timedelta

import httpx
from sqlalchemy import Engine, func, insert, select, update

from levante.db.metadata import all_metadata
from levante.db.times import now
from levante.platform.core import executions as ex
from levante.platform.retention.service import purge_platform
from levante.retention import Policy
from tests.conftest import levante_bin
from tests.integration.platform.service.conftest import Served, wait_status


def _run(client: httpx.Client, action: str, parent: str | None = None,
         **parameters: object) -> str:
    body: dict[str, object] = {"action": action, "parameters": parameters}
    if parent:
        body["context"] = {"parent": {"execution_id": parent}}
    answer = client.post("/executions", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _age(engine: Engine, ids: list[str], days: float) -> None:
    """Move the executions (and their output) `days` into the past."""
    tables = all_metadata().tables
    executions, output = tables["executions"], tables["execution_output"]
    shift = timedelta(days=days)
    with engine.begin() as conn:
        for row in conn.execute(select(executions).where(executions.c.id.in_(ids))).all():
            conn.execute(update(executions).where(executions.c.id == row.id).values(
                start_timestamp=row.start_timestamp - shift,
                end_timestamp=row.end_timestamp - shift if row.end_timestamp else None))
        for row in conn.execute(select(output).where(output.c.execution_id.in_(ids))).all():
            conn.execute(update(output).where(output.c.execution_id == row.execution_id,
                                              output.c.seq == row.seq)
                         .values(timestamp=row.timestamp - shift))


def _left(engine: Engine, ids: list[str]) -> set[str]:
    executions = all_metadata().tables["executions"]
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(
            select(executions.c.id).where(executions.c.id.in_(ids)))}


def _output_lines(engine: Engine, execution_id: str) -> int:
    output = all_metadata().tables["execution_output"]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(output)
                                .where(output.c.execution_id == execution_id)).scalar_one())


def test_old_finished_trees_go_and_nothing_live_or_referenced(served: Served) -> None:
    tables = all_metadata().tables
    with served.client() as client:
        family = _run(client, "core.noop")
        child = _run(client, "core.local", parent=family, cmd="echo child")
        grandchild = _run(client, "core.noop", parent=child)
        failed = _run(client, "core.local", cmd="echo no; exit 3")
        tracked = _run(client, "core.noop")
        reported = _run(client, "core.noop")
        live_parent = _run(client, "core.noop")
        recent = _run(client, "core.noop")
        for ident in (family, child, grandchild, failed, tracked, reported, live_parent,
                      recent):
            wait_status(client, ident, ex.DONE)
        running_child = _run(client, "core.local", parent=live_parent, cmd="sleep 30")
        wait_status(client, running_child, {"running"})
        old = [family, child, grandchild, failed, tracked, reported, live_parent,
               running_child]
        _age(served.engine, old, 40)
        with served.engine.begin() as conn:
            conn.execute(insert(tables["tracked_executions"]).values(
                execution_id=tracked, workflow_execution_id="wf", reason="manual",
                created_at=now(), errors=0))
            conn.execute(insert(tables["outbox"]).values(
                route="reports", line="x",
                execution_id=reported, kind="action", target_id="x", url="", body={},
                state="pending", attempts=0, created_at=now(), next_attempt_at=now()))

        policy = Policy(executions_days=30, status_days={"failed": 60}, batch_size=2)
        counts = purge_platform(served.engine, policy)

        assert counts["executions"] == 3
        assert _left(served.engine, [*old, recent]) == {
            failed, tracked, reported, live_parent, running_child, recent}
        assert _output_lines(served.engine, child) == 0
        assert client.get(f"/executions/{family}").status_code == 404
        assert client.get(f"/executions/{failed}").json()["status"] == "failed"

        # The failed one goes once its own age is reached; a finished tree once it ends.
        client.delete(f"/executions/{running_child}")
        wait_status(client, running_child, ex.DONE)
        _age(served.engine, [running_child], 40)
        counts = purge_platform(served.engine, Policy(executions_days=30))
        assert counts["executions"] == 3
        assert _left(served.engine, [*old, recent]) == {tracked, reported, recent}


def test_output_alone_can_be_kept_shorter_than_its_execution(served: Served) -> None:
    with served.client() as client:
        old = _run(client, "core.local", cmd="echo one; echo two")
        wait_status(client, old, ex.DONE)
        assert _output_lines(served.engine, old) > 0
        _age(served.engine, [old], 10)
        counts = purge_platform(served.engine, Policy(output_days=7))
        assert counts["output lines"] > 0
        assert _output_lines(served.engine, old) == 0
        assert _left(served.engine, [old]) == {old}


def _db_manage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([levante_bin("levante-db-manage"), *args], capture_output=True,
                          text=True, timeout=120)


def test_purge_by_hand_and_by_the_garbagecollector_role(served: Served) -> None:
    url = served.config.database_url
    with served.client() as client:
        first, second = _run(client, "core.noop"), _run(client, "core.noop")
        for ident in (first, second):
            wait_status(client, ident, ex.DONE)
    _age(served.engine, [first], 40)

    bad = _db_manage("purge", "--older-than", "soon", "--database", url)
    assert bad.returncode != 0 and "'soon' is not an age" in bad.stderr
    nothing = _db_manage("purge", "--database", url)
    assert nothing.returncode != 0 and "Say what to purge" in nothing.stderr
    events = _db_manage("purge", "--trigger-instances-older-than", "7d", "--database", url)
    assert events.returncode == 0, events.stderr
    assert "deleted 0 trigger instances, 0 timer slots" in events.stdout

    done = _db_manage("purge", "--older-than", "30d", "--batch-size", "1", "--database", url)
    assert done.returncode == 0, done.stderr
    assert "deleted 1 executions" in done.stdout
    assert _left(served.engine, [first, second]) == {second}

    _age(served.engine, [second], 3)
    env = {**os.environ, "LEVANTE_DATABASE_CONNECTION": url,
           "LEVANTE_CORE_DATA_DIR": served.config.data_dir.as_posix(),
           "LEVANTE_RETENTION_EXECUTIONS_DAYS": "2", "LEVANTE_RETENTION_INTERVAL": "0.2"}
    role = subprocess.Popen([levante_bin("levante"), "serve", "garbagecollector"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while _left(served.engine, [second]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _left(served.engine, [second]) == set()
    finally:
        role.terminate()
        out, _ = role.communicate(timeout=10)
    assert "garbagecollector: deleted 1 executions" in out
