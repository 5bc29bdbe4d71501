"""A migrated database with the packs registered, and the API + runner served on loopback."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from levante.config import Config, load_config
from levante.db.connect import make_engine
from levante.platform.api.app import create_app
from levante.platform.core.pack_registry import register_packs
from levante.platform.core.runner_service import RunnerService
from levante.platform.service import ensure_api_key
from levante.platform.stream.service import StreamCloser
from levante.service import HttpService, run_services
from tests.conftest import free_port

TEST_PACK = {
    "pack.yaml": "name: testpack\nversion: 0.1.0\ndescription: Actions for tests.\n",
    "actions/secret.yaml": (
        "name: secret\nrunner_type: noop\ndescription: Takes a password.\n"
        "parameters:\n  password:\n    type: string\n    secret: true\n    required: true\n"
        "  colour:\n    type: string\n    enum: [red, green]\n    default: red\n"
        "  count:\n    type: integer\n    default: 1\n"
    ),
    "actions/shell.yaml": (
        "name: shell\nrunner_type: local-shell-cmd\ndescription: Any command.\n"
        "parameters:\n  cmd:\n    type: string\n    required: true\n"
    ),
    "actions/broken.yaml": "name: broken\nrunner_type: no-such-runner\n",
}


def write_test_pack(root: Path) -> Path:
    pack = root / "testpack"
    for name, text in TEST_PACK.items():
        path = pack / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def make_config(tmp_path: Path, url: str, port: int = 0,
                extra: dict[tuple[str, str], Any] | None = None) -> Config:
    packs_root = write_test_pack(tmp_path / "packs")
    overrides: dict[tuple[str, str], Any] = {
        ("core", "data_dir"): str(tmp_path / "data"),
        ("database", "connection"): url,
        ("content", "packs_paths"): [str(packs_root)],
        ("api", "port"): port,
        ("runner", "poll_interval"): 0.05,
    }
    overrides.update(extra or {})
    return load_config(environ={}).with_overrides(overrides)


@dataclass
class Db:
    config: Config
    engine: Engine


@pytest.fixture
def platform_db(migrated_url: str, tmp_path: Path) -> Iterator[Db]:
    config = make_config(tmp_path, migrated_url)
    engine = make_engine(migrated_url)
    register_packs(engine, config.get_list("content", "packs_paths"))
    try:
        yield Db(config, engine)
    finally:
        engine.dispose()


@dataclass
class Served:
    url: str
    key: str
    engine: Engine
    config: Config
    runner: RunnerService

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"St2-Api-Key": key or self.key},
                            timeout=10)


class Background:
    """Services run in their own thread and event loop, stopped at the end of the test."""

    def __init__(self, services: list[Any]) -> None:
        self.services = services
        self.loop = asyncio.new_event_loop()
        self.stopping: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.error: BaseException | None = None

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def go() -> None:
            self.stopping = asyncio.Event()
            await run_services(self.services, self.stopping)

        try:
            self.loop.run_until_complete(go())
        except BaseException as exc:
            self.error = exc

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        if self.stopping is not None:
            self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(10)


def wait_http(url: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.02)
    raise AssertionError(f"{url} did not answer")


@pytest.fixture
def served(platform_db: Db) -> Iterator[Served]:
    port = free_port()
    config = platform_db.config.with_overrides({("api", "port"): port})
    key, _ = ensure_api_key(config, platform_db.engine)
    runner = RunnerService(config, platform_db.engine)
    api = HttpService("api", create_app(config, platform_db.engine), "127.0.0.1", port)
    # As `levante serve api` composes it: open streams end when the API stops.
    background = Background([api, runner, StreamCloser(platform_db.engine)])
    background.start()
    url = f"http://127.0.0.1:{port}"
    wait_http(url)
    try:
        yield Served(url + "/v1", key, platform_db.engine, config, runner)
    finally:
        background.stop()


def wait_status(client: httpx.Client, execution_id: str, statuses: set[str],
                timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        doc: dict[str, Any] = client.get(f"/executions/{execution_id}").json()
        if doc["status"] in statuses:
            return doc
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {execution_id} still {doc['status']}")
        time.sleep(0.01)
