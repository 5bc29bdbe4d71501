"""The database lifecycle through `levante-db-manage`, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import inspect, text

from levante.db import manage
from levante.db.connect import make_engine
from levante.db.metadata import all_metadata
from tests.conftest import levante_bin


def db_manage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [levante_bin("levante-db-manage"), *args], capture_output=True, text=True, timeout=120
    )


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def model_tables() -> set[str]:
    return set(all_metadata().tables)


def test_upgrade_down_to_empty_and_up_again(database_url: str) -> None:
    proc = db_manage("upgrade", "head", "--database", database_url)
    assert proc.returncode == 0, proc.stderr
    assert f"to {manage.head_revision()}" in proc.stdout
    assert tables(database_url) == model_tables() | {"alembic_version"}

    proc = db_manage("check", "--database", database_url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "schema matches the models" in proc.stdout

    current = db_manage("current", "--database", database_url)
    assert current.stdout.strip() == f"{manage.head_revision()} (head)"

    proc = db_manage("downgrade", "base", "--database", database_url)
    assert proc.returncode == 0, proc.stderr
    assert tables(database_url) <= {"alembic_version"}
    assert db_manage("current", "--database", database_url).stdout.startswith("none")

    assert db_manage("upgrade", "--database", database_url).returncode == 0
    assert db_manage("check", "--database", database_url).returncode == 0


def test_every_revision_downgrades_one_step(database_url: str) -> None:
    revisions = [r.revision for r in reversed(manage.history())]
    for rev in revisions:
        manage.upgrade(database_url, rev)
    for rev in reversed(revisions[:-1]):
        _, after = manage.downgrade(database_url, rev)
        assert after == rev
    manage.downgrade(database_url, "base")
    assert tables(database_url) <= {"alembic_version"}


def test_history_and_stamp(database_url: str) -> None:
    proc = db_manage("history", "--database", database_url)
    assert proc.returncode == 0
    assert f"-> {manage.head_revision()} (head)" in proc.stdout
    assert "<base> -> 0001" in proc.stdout
    manage.upgrade(database_url, "head")
    proc = db_manage("stamp", "0001", "--database", database_url)
    assert proc.returncode == 0, proc.stderr
    assert "stamped at revision 0001" in proc.stdout
    assert db_manage("current", "--database", database_url).stdout.startswith("0001 (head is")
    # Tables are all there, but the recorded revision is not the head: check says so.
    proc = db_manage("check", "--database", database_url)
    assert proc.returncode == 1
    assert f"revision: database is at 0001, head is {manage.head_revision()}" in proc.stdout
    assert db_manage("stamp", "head", "--database", database_url).returncode == 0
    assert db_manage("check", "--database", database_url).returncode == 0


def test_upgrade_sql_prints_without_touching_the_database(database_url: str) -> None:
    proc = db_manage("upgrade", "head", "--sql", "--database", database_url)
    assert proc.returncode == 0, proc.stderr
    assert "CREATE TABLE processes" in proc.stdout
    assert "CREATE INDEX ix_processes_role_heartbeat_at" in proc.stdout
    assert tables(database_url) == set()


@pytest.mark.parametrize(
    ("drift", "expected"),
    [
        ("CREATE TABLE stray (id INTEGER PRIMARY KEY)", "extra table: stray"),
        ("ALTER TABLE processes DROP COLUMN hostname", "missing column: processes.hostname"),
        ("ALTER TABLE processes ADD COLUMN color VARCHAR(10)", "extra column: processes.color"),
        (
            "DROP INDEX ix_processes_role_heartbeat_at",
            "missing index: ix_processes_role_heartbeat_at",
        ),
        ("CREATE INDEX ix_stray ON processes (pid)", "extra index: ix_stray on processes(pid)"),
    ],
)
def test_check_names_drift_made_by_hand(database_url: str, drift: str, expected: str) -> None:
    manage.upgrade(database_url, "head")
    execute(database_url, drift)
    proc = db_manage("check", "--database", database_url)
    assert proc.returncode == 1, proc.stdout
    assert expected in proc.stdout
    assert "difference(s)" in proc.stdout


def test_tables_without_revision_matching_a_known_revision(database_url: str) -> None:
    manage.upgrade(database_url, "0001")
    execute(
        database_url,
        "INSERT INTO processes (id, role, hostname, pid, started_at, heartbeat_at) VALUES "
        "('p1', 'api', 'h', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
        "DROP TABLE alembic_version",
    )
    proc = db_manage("upgrade", "head", "--database", database_url)
    assert proc.returncode == 2
    assert "tables but no recorded revision (processes)" in proc.stderr
    assert "match revision 0001" in proc.stderr
    assert "levante-db-manage stamp 0001" in proc.stderr
    assert "Traceback" not in proc.stderr
    # Nothing was dropped, and the way out works.
    assert tables(database_url) == {"processes"}
    assert db_manage("stamp", "0001", "--database", database_url).returncode == 0
    assert db_manage("upgrade", "head", "--database", database_url).returncode == 0
    engine = make_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM processes")).scalar_one() == "p1"
    engine.dispose()


def test_tables_without_revision_matching_nothing(database_url: str) -> None:
    execute(
        database_url,
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(20))",
        "INSERT INTO customers (id, name) VALUES (1, 'ada')",
    )
    proc = db_manage("upgrade", "head", "--database", database_url)
    assert proc.returncode == 2
    assert "(customers)" in proc.stderr
    assert "match no known revision" in proc.stderr
    assert tables(database_url) == {"customers"}
    engine = make_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM customers")).scalar_one() == "ada"
    engine.dispose()


def test_two_upgrades_at_once_both_succeed(database_url: str) -> None:
    cmd = [levante_bin("levante-db-manage"), "upgrade", "head", "--database", database_url]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    said = "".join(out for out, _ in outputs)
    assert said.count("upgraded from empty") == 1
    assert said.count("nothing to do") == 1
    assert manage.check(database_url) == []


def test_unreachable_database_is_a_clear_error() -> None:
    proc = db_manage("current", "--database", "postgresql://nobody@127.0.0.1:1/none")
    assert proc.returncode == 2
    assert "levante-db-manage: error:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_lists_every_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "levante.cli.db_manage", "--help"], capture_output=True, text=True
    )
    out = db_manage("--help").stdout
    for name in ("upgrade", "downgrade", "current", "history", "stamp", "check"):
        assert name in out
    assert proc.returncode in (0, 1)
