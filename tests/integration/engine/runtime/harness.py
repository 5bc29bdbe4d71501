"""Helpers for runtime tests: a worker running in a thread, workflows run to the end."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine

from levante.engine import states
from levante.engine.core import runtime
from levante.engine.core.runtime import EngineRuntime
from levante.engine.core.worker import EngineWorker
from levante.engine.store import definitions
from levante.engine.store import executions as store


class ThreadWorker:
    """An EngineWorker of `runtime` on its own event loop in a background thread."""

    def __init__(self, runtime: EngineRuntime, **kwargs: Any) -> None:
        self.runtime = runtime
        self.worker = EngineWorker(runtime, **kwargs)
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._ready = threading.Event()

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stopping = asyncio.Event()
            self._ready.set()
            await self.worker.run(self._stopping)

        asyncio.run(main())

    def start(self) -> ThreadWorker:
        self._thread.start()
        self._ready.wait(5)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)


def define(db: Engine, ns: str, text: str) -> None:
    with runtime.writer(db) as conn:
        definitions.create_workflows(conn, text, namespace=ns)


def wait_done(db: Engine, ex_id: str, timeout: float = 10.0,
              want: frozenset[str] = states.COMPLETED) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        with db.connect() as conn:
            row = store.get_workflow(conn, ex_id)
        assert row is not None
        if row["state"] in want:
            return row
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {ex_id} still {row['state']} after {timeout}s")
        time.sleep(0.01)


def run(rt: EngineRuntime, ns: str, name: str, input: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None, timeout: float = 10.0) -> dict[str, Any]:
    ex = rt.start_workflow(workflow_identifier=name, namespace=ns, input=input,
                           params=params)
    return wait_done(rt.db, ex["id"], timeout)


def tasks(db: Engine, ex_id: str) -> dict[str, dict[str, Any]]:
    """Tasks of an execution by name (the last execution of each name)."""
    with db.connect() as conn:
        return {t["name"]: t for t in store.tasks_of(conn, ex_id)}


def task_states(db: Engine, ex_id: str) -> dict[str, str]:
    return {n: t["state"] for n, t in tasks(db, ex_id).items()}
