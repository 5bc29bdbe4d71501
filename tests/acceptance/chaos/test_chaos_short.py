"""The chaos run (bench/chaos.py) in short: a few dozen workflows with platform-action
children while a runner and an engine are killed -9 and the database refuses writes, on
SQLite (`levante up`, one process) and on PostgreSQL (every role a process, two engines and
two runners). Nothing may end up stuck, run twice or with a final status the engine does not
share, and a workflow may fail only because one of its actions really was interrupted (and
then it took its on-error path). The full run, with its figures: docs/reliability.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bench.chaos import Chaos, Report

from tests.conftest import postgres_server_url

# Short, but each fault hits workflows in flight: 2 s of launches before it, 3 s after.
TIMING: dict[str, Any] = {"lead": 2.0, "calm": 3.0, "settle": 45.0, "nap": 1.0}


def _run(database: str, faults: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
         **options: Any) -> Report:
    lines: list[str] = []
    report = Chaos(database, 24, faults, out=lines.append, keep=tmp_path,
                   **{**TIMING, **options}).run()
    with capsys.disabled():
        print(f"\n{report.table()}")
    return report


def _check(report: Report) -> None:
    total = report.total
    shown = report.table()
    assert total.started == report.workflows, shown
    assert total.stuck == 0, shown
    assert total.twice == 0, shown
    assert total.wrong == 0, shown
    assert total.failed == total.interrupted, f"failures without an interrupted action\n{shown}"
    assert total.succeeded + total.failed + total.stuck == total.started, shown


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_chaos_short_sqlite(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Killing `levante up` kills every role at once. `levante up` makes its writes one at a
    # time: with a busy timeout of 1 s, an 8 s lock refuses several of them, not just one.
    _check(_run("sqlite", "kill:up,readonly:8", capsys, tmp_path, busy_timeout=1.0))


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_chaos_short_postgres(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    server = postgres_server_url()
    if not server:
        pytest.skip("PostgreSQL tests need LEVANTE_TEST_POSTGRES_URL")
    _check(_run(server, "kill:runner,kill:engine,readonly:5", capsys, tmp_path))
