"""The sensor container in this test process, on a real database with the test pack
(`packs/sensortest`) registered: containers run as asyncio tasks in a loop of their own
thread, their sensors as real processes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from levante.db.connect import make_engine
from levante.platform.core.pack_registry import register_packs
from levante.platform.datastore.pairs import Datastore
from levante.platform.sensors.process import Settings
from levante.platform.sensors.service import SensorContainer

PACKS = Path(__file__).resolve().parent / "packs"

FAST = Settings(lease_seconds=3.0, renew_interval=0.3, initial_backoff=0.3, max_backoff=1.2,
                backoff_reset=30.0, stop_timeout=3.0)


@dataclass
class Containers:
    """Sensor containers running in one event loop (in a thread of its own)."""

    db: Engine
    key_path: Path
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    thread: threading.Thread | None = None
    running: list[tuple[SensorContainer, asyncio.Event, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def start(self, settings: Settings = FAST) -> SensorContainer:
        container = SensorContainer(self.db, Datastore(self.db, self.key_path), settings)

        async def begin() -> tuple[asyncio.Event, Any]:
            stopping = asyncio.Event()
            return stopping, asyncio.ensure_future(container.run(stopping))

        stopping, task = asyncio.run_coroutine_threadsafe(begin(), self.loop).result()
        self.running.append((container, stopping, task))
        return container

    def stop(self, container: SensorContainer) -> None:
        for item in list(self.running):
            if item[0] is container:
                self.loop.call_soon_threadsafe(item[1].set)
                asyncio.run_coroutine_threadsafe(_wait(item[2]), self.loop).result(30)
                self.running.remove(item)

    def close(self) -> None:
        for container, _, _ in list(self.running):
            self.stop(container)
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self.thread is not None:
            self.thread.join(10)


async def _wait(task: Any) -> None:
    await task


@pytest.fixture
def sensor_db(migrated_url: str) -> Iterator[Engine]:
    """A database at head with the test pack registered."""
    db = make_engine(migrated_url)
    report = register_packs(db, [str(PACKS)], ["sensortest"])
    assert not report.errors, report.errors
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def containers(sensor_db: Engine, tmp_path: Path) -> Iterator[Containers]:
    found = Containers(sensor_db, tmp_path / "crypto_key")
    try:
        yield found
    finally:
        found.close()
