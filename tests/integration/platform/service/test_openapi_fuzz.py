"""Schemathesis against the served API: no generated request may get a server error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from levante.db.connect import make_engine
from levante.platform.api.app import create_app
from levante.platform.api.openapi import build
from levante.platform.core.pack_registry import register_packs
from levante.platform.core.runner_service import RunnerService
from levante.platform.service import ensure_api_key
from levante.service import HttpService
from tests.conftest import free_port
from tests.harness import migrated_sqlite
from tests.integration.platform.service.conftest import Background, make_config, wait_http

schema = schemathesis.openapi.from_dict(build())


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """One platform (SQLite) for every generated case of this module."""
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{tmp / 'levante.sqlite'}"
    migrated_sqlite(url)
    port = free_port()
    config = make_config(tmp, url, port)
    engine = make_engine(url)
    register_packs(engine, config.get_list("content", "packs_paths"))
    key, _ = ensure_api_key(config, engine)
    app = HttpService("api", create_app(config, engine), "127.0.0.1", port)
    background = Background([app, RunnerService(config, engine)])
    background.start()
    wait_http(f"http://127.0.0.1:{port}")
    try:
        yield f"http://127.0.0.1:{port}", key
    finally:
        background.stop()
        engine.dispose()


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case: schemathesis.Case,
                                        api: tuple[str, str]) -> None:
    base_url, key = api
    response = case.call(base_url=base_url, headers={"St2-Api-Key": key})
    case.validate_response(response, checks=[not_a_server_error])
