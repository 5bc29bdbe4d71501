"""Long-running services and running them until stopped.

A service is anything with an async `run(stopping)` that returns once `stopping` is set.
Which services each role runs (`levante serve ROLE`; `levante up` runs every role in one
process) is the role table, `levante.roles`. Every process checks the schema first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator, Sequence
from typing import Protocol

import uvicorn
from sqlalchemy import Engine

from levante.db.schema_guard import EXIT_SCHEMA_NOT_AT_HEAD as EXIT_SCHEMA_NOT_AT_HEAD
from levante.db.schema_guard import ensure_at_head

log = logging.getLogger("levante.service")

class Service(Protocol):
    name: str

    async def run(self, stopping: asyncio.Event) -> None: ...


class HttpService:
    """An ASGI application served by uvicorn until `stopping` is set."""

    def __init__(self, name: str, app: object, host: str, port: int) -> None:
        self.name = name
        self.app = app
        self.host = host
        self.port = port
        self.server: uvicorn.Server | None = None

    async def run(self, stopping: asyncio.Event) -> None:
        config = uvicorn.Config(
            self.app,  # type: ignore[arg-type]
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self.server = _QuietServer(config)
        serving = asyncio.create_task(self.server.serve())
        await _first(serving, stopping)
        self.server.should_exit = True
        await serving


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signals to `run_services`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _first(task: asyncio.Task[object], stopping: asyncio.Event) -> None:
    waiter = asyncio.create_task(stopping.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()


async def run_services(services: Sequence[Service], stopping: asyncio.Event | None = None) -> None:
    """Run services until SIGINT/SIGTERM (or `stopping`); one that fails stops the rest."""
    stopping = stopping or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stopping.set)
    tasks = [asyncio.create_task(s.run(stopping), name=s.name) for s in services]
    try:
        for done in asyncio.as_completed(tasks):
            try:
                await done
            except Exception:
                log.exception("a service failed; stopping the others")
                stopping.set()
                raise
            finally:
                stopping.set()
    finally:
        stopping.set()
        await asyncio.gather(*tasks, return_exceptions=True)


def guard(engine: Engine) -> None:
    """Refuse to serve on a database that is not at head (see levante.db.manage)."""
    ensure_at_head(engine)
