"""CLI commands that read tables directly refuse a database that is missing, empty, older
or unreachable with one line (the database named, no password, what to run), never a
traceback, and create no table."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from levante.db import manage
from levante.service import EXIT_SCHEMA_NOT_AT_HEAD
from tests.conftest import free_port, levante_bin
from tests.migration.test_lifecycle import tables

# Each command as run, with the name it gives itself in its messages.
COMMANDS: dict[str, tuple[str, list[str]]] = {
    "trace": ("levante", ["levante", "execution", "trace", "some-id"]),
    "track-result": ("levante-track-result", ["levante-track-result", "some-id"]),
    "track-result-delete": (
        "levante-track-result", ["levante-track-result", "some-id", "--delete"]
    ),
}


def _env(data_dir: Path) -> dict[str, str]:
    """The caller's environment without any LEVANTE_ setting, so only the file counts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVANTE_")}
    env["LEVANTE_CORE_DATA_DIR"] = str(data_dir)
    return env


def run(argv: list[str], tmp_path: Path, url: str | None) -> subprocess.CompletedProcess[str]:
    """Run a command with a levante.conf naming `url` (none: the embedded default)."""
    lines = ["[core]", f"data_dir = {tmp_path / 'data'}", ""]
    if url is not None:
        lines += ["[database]", f"connection = {url}", ""]
    conf = tmp_path / "levante.conf"
    conf.write_text("\n".join(lines), encoding="utf-8")
    return subprocess.run(
        [levante_bin(argv[0]), *argv[1:], "--config-file", str(conf)],
        capture_output=True, text=True, env=_env(tmp_path / "data"), cwd=tmp_path, timeout=60,
    )


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single line of stderr; fails on a traceback, on output or on more lines."""
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.stdout == "", proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def refusal(prog: str, url: str, current: str, also: str = "") -> str:
    return (
        f"{prog}: error: database {shown(url)} is at revision {current}, expected "
        f"{manage.head_revision()}; run `levante-db-manage upgrade head`{also}"
    )


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_refuses_an_empty_database_and_creates_no_table(
    command: str, database_url: str, tmp_path: Path
) -> None:
    prog, argv = COMMANDS[command]
    assert tables(database_url) == set()  # on SQLite, this makes the empty file
    proc = run(argv, tmp_path, database_url)
    assert proc.returncode == EXIT_SCHEMA_NOT_AT_HEAD, proc.stderr
    assert one_line(proc) == refusal(prog, database_url, "none (empty)")
    assert tables(database_url) == set()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_refuses_a_missing_sqlite_file_and_does_not_create_it(
    command: str, tmp_path: Path
) -> None:
    prog, argv = COMMANDS[command]
    path = tmp_path / "nowhere" / "levante.sqlite"
    url = f"sqlite:///{path}"
    proc = run(argv, tmp_path, url)
    assert proc.returncode == EXIT_SCHEMA_NOT_AT_HEAD, proc.stderr
    assert one_line(proc) == refusal(prog, url, "none (empty)")
    assert not path.parent.exists()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_embedded_default_also_points_at_levante_up(command: str, tmp_path: Path) -> None:
    prog, argv = COMMANDS[command]
    path = tmp_path / "data" / "levante.sqlite"
    proc = run(argv, tmp_path, None)
    assert proc.returncode == EXIT_SCHEMA_NOT_AT_HEAD, proc.stderr
    assert one_line(proc) == refusal(
        prog, f"sqlite:///{path}", "none (empty)",
        " (or `levante up`, which upgrades it by itself)",
    )
    assert not path.exists()


def test_refuses_an_older_revision_and_changes_nothing(
    database_url: str, tmp_path: Path
) -> None:
    manage.upgrade(database_url, "0001")
    before = tables(database_url)
    for prog, argv in COMMANDS.values():
        proc = run(argv, tmp_path, database_url)
        assert proc.returncode == EXIT_SCHEMA_NOT_AT_HEAD, proc.stderr
        assert one_line(proc) == refusal(prog, database_url, "0001")
    assert tables(database_url) == before
    assert manage.history(database_url)[-1].is_current  # still at 0001


def test_a_database_at_head_gets_past_the_guard(database_url: str, tmp_path: Path) -> None:
    manage.upgrade(database_url, "head")
    proc = run(COMMANDS["trace"][1], tmp_path, database_url)
    assert proc.returncode == 2
    assert one_line(proc) == (
        'levante: error: No execution or workflow execution "some-id" was found.'
    )
    proc = run(COMMANDS["track-result"][1], tmp_path, database_url)
    assert proc.returncode == 2
    assert one_line(proc) == 'levante-track-result: error: Execution "some-id" cannot be found.'


UNREACHABLE: dict[str, tuple[str, list[str]]] = {
    **COMMANDS,
    "serve": ("levante", ["levante", "serve", "api"]),
    "up": ("levante", ["levante", "up", "--no-example"]),
    "db-manage-current": ("levante-db-manage", ["levante-db-manage", "current"]),
    "db-manage-upgrade": ("levante-db-manage", ["levante-db-manage", "upgrade", "head"]),
}


@pytest.mark.parametrize("command", sorted(UNREACHABLE))
def test_an_unreachable_server_is_one_line_without_the_password(
    command: str, tmp_path: Path
) -> None:
    """Nothing listens on the port: no PostgreSQL server is needed for this one."""
    prog, argv = UNREACHABLE[command]
    url = f"postgresql://levante:s3cret-pw@127.0.0.1:{free_port()}/levante"
    proc = run(argv, tmp_path, url)
    assert proc.returncode == 2, proc.stderr
    line = one_line(proc)
    assert line.startswith(f"{prog}: error: cannot reach database {shown(url)}: "), line
    assert "levante:***@" in line and "s3cret-pw" not in line
