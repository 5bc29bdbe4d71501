"""Every long-running service refuses a database that is not at head, and creates nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from levante.db import manage, schema_guard
from levante.db.connect import make_engine
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


def test_the_light_guard_agrees_with_alembic(database_url: str) -> None:
    """The guard reads the head from the migration files and the revision with one query;
    Alembic is the reference for both (empty, an older revision, head)."""
    assert schema_guard.head_revision() == manage.head_revision()
    engine = make_engine(database_url)
    try:
        assert schema_guard.current_revision(engine) is None
        manage.upgrade(database_url, "0001")
        assert schema_guard.current_revision(engine) == manage.current_revision(engine) == "0001"
        with pytest.raises(schema_guard.SchemaNotAtHead):
            schema_guard.ensure_at_head(engine)
        manage.upgrade(database_url, "head")
        assert schema_guard.current_revision(engine) == manage.current_revision(engine)
        schema_guard.ensure_at_head(engine)
    finally:
        engine.dispose()


def test_serving_does_not_import_alembic() -> None:
    """Half a second of every process start: only upgrades need Alembic."""
    probe = ("import sys, levante.cli.serve, levante.service; "
             "sys.exit('alembic' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", probe], timeout=60).returncode == 0
