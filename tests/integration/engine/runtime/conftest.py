"""One database per module and backend (PostgreSQL databases are slow to create); each
test defines its workflows in a namespace of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from levante.db.connect import make_engine
from levante.engine.core.runtime import EngineRuntime
from levante.engine.settings import EngineSettings
from tests.conftest import drop_postgres_database, postgres_server_url
from tests.harness import migrated_database, migrated_sqlite

from .harness import ThreadWorker


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def module_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("engine") / "levante.sqlite"
        url = f"sqlite:///{path}"
        migrated_sqlite(url)
        yield url
        return
    if not postgres_server_url():
        pytest.skip("PostgreSQL tests need LEVANTE_TEST_POSTGRES_URL")
    url = migrated_database(str(postgres_server_url()))
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(scope="module")
def db(module_url: str) -> Iterator[Engine]:
    engine = make_engine(module_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def rt(db: Engine) -> EngineRuntime:
    """The engine runtime of the module's tests, with the default settings."""
    return EngineRuntime(db, EngineSettings())


@pytest.fixture(scope="module")
def worker(rt: EngineRuntime) -> Iterator[ThreadWorker]:
    w = ThreadWorker(rt, poll_interval=0.2).start()
    yield w
    w.stop()


@pytest.fixture
def ns() -> str:
    return f"t{uuid.uuid4().hex[:10]}"
