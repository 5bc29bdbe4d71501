"""Shared fixtures: databases on SQLite and PostgreSQL, free ports, the levante commands.

PostgreSQL tests read the server's URL from LEVANTE_TEST_POSTGRES_URL (any database on
that server; each test gets a fresh database of its own) and skip without it, unless
LEVANTE_REQUIRE_POSTGRES=1 (as in .ci/run), where a skip of a PostgreSQL test fails the run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import (
    BIN,
    create_database,
    drop_database,
    free_port,
    levante_bin,
    migrated_database,
    migrated_sqlite,
)

__all__ = ["BIN", "free_port", "levante_bin"]  # (imported from here by many tests)

POSTGRES_ENV = "LEVANTE_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "LEVANTE_REQUIRE_POSTGRES"


@pytest.fixture
def port() -> int:
    return free_port()


def postgres_server_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def create_postgres_database() -> str:
    """A new empty database on the test server; returns its URL."""
    server = postgres_server_url()
    assert server, POSTGRES_ENV
    return create_database(server)


def drop_postgres_database(url: str) -> None:
    server = postgres_server_url()
    assert server
    drop_database(server, url, wait=False)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    if not postgres_server_url():
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}")
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'levante.sqlite'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'levante.sqlite'}"
        return
    if not postgres_server_url():
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}")
    # A test that asks for a migrated database gets a copy of a migrated template (see
    # migrated_url): a copy takes milliseconds where migrating takes a second.
    url = (migrated_database(str(postgres_server_url()))
           if "migrated_url" in request.fixturenames else create_postgres_database())
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """A database of each kind, at head (on PostgreSQL, database_url made it so)."""
    if database_url.startswith("sqlite"):
        migrated_sqlite(database_url)
    return database_url


_skipped_postgres: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # An expected failure (xfail) ran; only a real skip means PostgreSQL was not exercised.
    if report.skipped and not hasattr(report, "wasxfail") and "postgres" in report.keywords:
        _skipped_postgres.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get(REQUIRE_POSTGRES_ENV) == "1" and _skipped_postgres:
        sys.stderr.write(
            f"\n{len(_skipped_postgres)} PostgreSQL test(s) were skipped although "
            f"{REQUIRE_POSTGRES_ENV}=1, e.g. {_skipped_postgres[0]}\n"
        )
        session.exitstatus = 1
