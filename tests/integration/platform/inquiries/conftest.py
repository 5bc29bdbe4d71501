"""The platform API, a runner and the inquiry sweep on loopback, on SQLite and PostgreSQL,
with a pack of chains that ask (ttl units of 0.2 s, swept every 0.05 s)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from levante.db.connect import make_engine
from levante.platform.api.app import create_app
from levante.platform.core.pack_registry import register_packs
from levante.platform.core.runner_service import RunnerService
from levante.platform.inquiries.service import InquirySweeper
from levante.platform.service import ensure_api_key
from levante.service import HttpService
from tests.conftest import free_port
from tests.integration.platform.service.conftest import (
    Background,
    Served,
    make_config,
    wait_http,
)

ASKING = {
    "pack.yaml": "name: asking\nversion: 0.1.0\ndescription: Chains that ask.\n",
    "actions/approve.yaml": (
        "name: approve\nrunner_type: action-chain\nentry_point: chains/approve.yaml\n"
        "parameters:\n  ttl: {type: integer, default: 600}\n"),
    "actions/chains/approve.yaml": """---
chain:
  - name: ask
    ref: core.ask
    params:
      ttl: "{{ ttl }}"
      route: ops
      schema:
        type: object
        properties:
          approved: {type: boolean, required: true}
          reason: {type: string}
    publish:
      verdict: "{{ ask.get('response', {}).get('approved') }}"
    on-success: after
    on-failure: denied
  - name: after
    ref: core.local
    params:
      cmd: "echo approved={{ verdict }} reason={{ ask.response.reason }}"
  - name: denied
    ref: core.local
    params:
      cmd: "echo no answer"
""",
}


def _pack(root: Path) -> Path:
    for name, text in ASKING.items():
        path = root / "asking" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def asking(migrated_url: str, tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    packs = _pack(tmp_path / "asking-packs")
    config = make_config(tmp_path, migrated_url, port, {
        ("inquiry", "ttl_unit"): 0.2, ("inquiry", "sweep_interval"): 0.05})
    config = config.with_overrides({
        ("content", "packs_paths"): [*config.get_list("content", "packs_paths"), str(packs)]})
    engine = make_engine(migrated_url)
    report = register_packs(engine, config.get_list("content", "packs_paths"))
    assert "asking" in report.packs, report.errors
    key, _ = ensure_api_key(config, engine)
    runner = RunnerService(config, engine)
    api = HttpService("api", create_app(config, engine), "127.0.0.1", port)
    background = Background([api, runner, InquirySweeper(config, engine)])
    background.start()
    url = f"http://127.0.0.1:{port}"
    wait_http(url)
    try:
        yield Served(url + "/v1", key, engine, config, runner)
    finally:
        background.stop()
        engine.dispose()
