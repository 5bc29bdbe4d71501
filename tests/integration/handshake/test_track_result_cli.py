"""`levante-track-result` add and --delete, refusals and no-ops; `levante execution trace`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from levante.cli.main import cli
from levante.cli.track_result import track_result
from levante.db.connect import make_engine
from levante.platform.workflows.tables import tracked_executions
from tests.conftest import levante_bin
from tests.harness import migrated_sqlite
from tests.integration.handshake.support import (
    engine_event,
    engine_task,
    engine_workflow,
    platform_execution,
    write_config,
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([levante_bin("levante-track-result"), *args], capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def url(sqlite_url: str) -> str:
    """SQLite only: the commands' SQL is the tracker's, tested on both databases elsewhere."""
    migrated_sqlite(sqlite_url)
    return sqlite_url


def in_process(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(track_result, list(args))
    return result.exit_code, result.output


def tracked(db) -> list[str]:
    with db.connect() as conn:
        return sorted(conn.execute(select(tracked_executions.c.execution_id)).scalars())


def test_add_delete_refusals_and_no_ops(url: str, tmp_path: Path) -> None:
    conf = write_config(tmp_path, url)
    db = make_engine(url)
    parent = platform_execution(db, "wf-p")
    child = platform_execution(db, "wf-c", parent=parent)
    platform_execution(db, None, runner_type="local-shell-cmd", parent=parent)
    finished = platform_execution(db, "wf-f", status="succeeded")
    shell = platform_execution(db, None, runner_type="local-shell-cmd")

    added = run(parent, "--config-file", str(conf))
    assert added.returncode == 0, added.stderr
    assert f'Tracking execution "{parent}"' in added.stdout
    assert f'Tracking execution "{child}"' in added.stdout
    assert tracked(db) == sorted([parent, child])

    again = run(parent, "--config-dir", str(tmp_path))
    assert again.returncode == 0 and "already tracked" in again.stdout

    code, out = in_process(finished, "--config-file", str(conf))
    assert code == 2 and "already succeeded" in out
    code, out = in_process(shell, "--config-file", str(conf))
    assert code == 2 and "not a workflow execution" in out
    code, out = in_process("0" * 24, "--config-file", str(conf))
    assert code == 2 and "cannot be found" in out

    removed = run(parent, "--delete", "--config-file", str(conf))
    assert removed.returncode == 0, removed.stderr
    assert "no longer tracked" in removed.stdout and tracked(db) == []
    gone = run(parent, "--delete", "--config-file", str(conf))
    assert gone.returncode == 0 and "nothing to remove" in gone.stdout
    db.dispose()


def test_trace_prints_the_story(url: str, tmp_path: Path) -> None:
    conf = write_config(tmp_path, url)
    db = make_engine(url)
    wf_id = engine_workflow(db, {"notify": [{"type": "webhook", "url": "http://x"}]},
                            state="SUCCESS")
    ex_id = platform_execution(db, wf_id)
    task_id = engine_task(db, wf_id, "first")
    engine_event(db, wf_id, "WORKFLOW_LAUNCHED")
    engine_event(db, wf_id, "TASK_SUCCEEDED", task_id)
    engine_event(db, wf_id, "WORKFLOW_SUCCEEDED")
    from levante.engine.store import outbox

    with outbox.writing(db) as conn:
        outbox.fanout(conn, [])
    proc = subprocess.run([levante_bin("levante"), "execution", "trace", ex_id,
                           "--config-file", str(conf)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"Execution {ex_id} (examples.wf): running" in out
    assert f"Workflow execution {wf_id} (wb.wf): SUCCESS" in out
    assert f"WORKFLOW_LAUNCHED  launch of {wf_id}" in out
    assert f"TASK_SUCCEEDED  task first ({task_id})" in out
    assert "-> webhook http://x: pending, 0 attempt(s) so far" in out
    unknown = CliRunner().invoke(cli, ["execution", "trace", "nope", "--config-file",
                                       str(conf)])
    assert unknown.exit_code == 2 and "No execution" in unknown.output
    db.dispose()
