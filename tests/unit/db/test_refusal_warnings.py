"""faults.RefusalWarnings: each service warns of a refusing database at most every
WARN_EVERY seconds per kind of work, apart from every other service."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from levante.db import faults

REFUSED = sqlite3.OperationalError("attempt to write a readonly database")


def test_one_line_per_kind_of_work_per_service(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("levante.test.refusals")
    first, second = faults.RefusalWarnings(), faults.RefusalWarnings()
    with caplog.at_level(logging.WARNING, logger=log.name):
        for _ in range(5):
            first.warn(log, "claiming executions", REFUSED)
        first.warn(log, "runner heartbeat", REFUSED)
        second.warn(log, "claiming executions", REFUSED)  # its own service: its own line
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "claiming executions: the database refuses writes (OperationalError: attempt to "
        "write a readonly database); trying again",
        "runner heartbeat: the database refuses writes (OperationalError: attempt to "
        "write a readonly database); trying again",
        "claiming executions: the database refuses writes (OperationalError: attempt to "
        "write a readonly database); trying again",
    ]
