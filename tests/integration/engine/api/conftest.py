"""A running engine API on a loopback port over a migrated database (SQLite, PostgreSQL).

When the engine role exists (`levante.engine.service`), its services (API, workers, cron)
run in a thread with their own event loop, as `levante serve engine` runs them;
otherwise the API alone is served by uvicorn.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from levante.config import load_config
from levante.db.connect import make_engine
from levante.engine.api.app import create_app
from levante.engine.core.runtime import EngineRuntime
from levante.engine.languages.registry import BUILTIN_LANGUAGES, Languages
from levante.engine.settings import EngineSettings
from levante.identity.keys import create_api_key
from tests.conftest import free_port


@dataclass
class Api:
    url: str
    client: httpx.Client  # authenticated with `key`
    engine: Engine
    key: str = ""  # an API key of the database (the engine role requires one)


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process keeps its signals
        pass


def has_engine_role() -> bool:
    try:
        return importlib.util.find_spec("levante.engine.service") is not None
    except ModuleNotFoundError:
        return False


def _wait_up(url: str, thread: threading.Thread) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the engine stopped while starting")
        try:
            if httpx.get(url + "/v2", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise RuntimeError("the engine API did not start")


def serve_role(engine: Engine, url: str,
               overrides: dict[tuple[str, str], Any] | None = None,
               languages: Languages = BUILTIN_LANGUAGES) -> Iterator[str]:
    """The engine role's services in a thread, until the generator is closed; their
    settings are the configuration's, with `languages`."""
    from levante.engine.service import engine_services

    port = free_port()
    config = load_config(environ={}).with_overrides({
        ("database", "connection"): url,
        ("engine", "host"): "127.0.0.1",
        ("engine", "port"): port,
        ("engine", "poll_interval"): 0.2,
        ("notifier", "enabled"): False,
        **(overrides or {}),
    })
    loop = asyncio.new_event_loop()
    stopping: asyncio.Event | None = None

    async def main() -> None:
        nonlocal stopping
        stopping = asyncio.Event()
        settings = replace(EngineSettings.from_config(config), languages=languages)
        services = engine_services(config, engine, settings)
        await asyncio.gather(*(s.run(stopping) for s in services))

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_up(base, thread)
        yield base
    finally:
        if stopping is not None:
            loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=15)


def serve(engine: Engine, languages: Languages = BUILTIN_LANGUAGES) -> Iterator[str]:
    """The API alone, served by uvicorn in a thread."""
    port = free_port()
    runtime = EngineRuntime(engine, EngineSettings(languages=languages))
    config = uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="off")
    server = _Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait_up(f"http://127.0.0.1:{port}", thread)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def running_api(migrated_url: str, languages: Languages = BUILTIN_LANGUAGES) -> Iterator[Api]:
    """An engine API (the engine role's services when it exists) knowing `languages`."""
    engine = make_engine(migrated_url)
    key, _row = create_api_key(engine, "api-tester")
    running = serve_role(engine, migrated_url, languages=languages) if has_engine_role() \
        else serve(engine, languages)
    try:
        for url in running:
            with httpx.Client(base_url=url + "/v2", timeout=30,
                              headers={"X-Auth-Token": key}) as client:
                yield Api(url, client, engine, key)
    finally:
        engine.dispose()


@pytest.fixture
def api(migrated_url: str) -> Iterator[Api]:
    yield from running_api(migrated_url)
