"""Every long-running service refuses a database that is not at head, and creates nothing."""

from __future__ import annotations

import os
import subprocess

import pytest

from levante.db import manage
from levante.roles import ROLES
from levante.service import EXIT_SCHEMA_NOT_AT_HEAD
from tests.conftest import levante_bin
from tests.migration.test_lifecycle import tables


def serve(role: str, url: str, tmp_data: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEVANTE_DATABASE_CONNECTION": url, "LEVANTE_CORE_DATA_DIR": tmp_data}
    return subprocess.run(
        [levante_bin("levante"), "serve", role], capture_output=True, text=True, env=env,
        timeout=60,
    )


@pytest.mark.parametrize("role", sorted(ROLES))
def test_service_refuses_an_empty_database_and_creates_no_table(
    role: str, database_url: str, tmp_path: object
) -> None:
    proc = serve(role, database_url, str(tmp_path))
    assert proc.returncode == EXIT_SCHEMA_NOT_AT_HEAD, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    head = manage.head_revision()
    assert lines[0] == (
        f"levante: database is at revision none (empty), expected {head}; "
        "run `levante-db-manage upgrade head`"
    )
    assert tables(database_url) == set()


def test_service_refuses_an_older_revision(database_url: str, tmp_path: object) -> None:
    manage.upgrade(database_url, "0001")
    before = tables(database_url)
    proc = serve("engine", database_url, str(tmp_path))
    assert proc.returncode == EXIT_SCHEMA_NOT_AT_HEAD
    assert f"database is at revision 0001, expected {manage.head_revision()}" in proc.stderr
    assert "levante-db-manage upgrade head" in proc.stderr
    assert tables(database_url) == before


def test_levante_up_upgrades_by_itself_and_says_so(tmp_path: object) -> None:
    """`levante up` is the one place that upgrades; it says so before serving."""
    data = str(tmp_path)
    env = {**os.environ, "LEVANTE_CORE_DATA_DIR": data}
    env.pop("LEVANTE_DATABASE_CONNECTION", None)
    proc = subprocess.Popen(
        [levante_bin("levante"), "up", "--api-port", "0", "--engine-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert first.startswith("Upgraded database sqlite:///")
    assert f"to {manage.head_revision()} (head)" in first
    assert "`levante up` upgrades by itself" in first
    url = f"sqlite:///{data}/levante.sqlite"
    assert manage.check(url) == []
