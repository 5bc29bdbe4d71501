"""Outgoing HTTP clients kept for reuse: one connection pool per event loop.

Calls between the services (launching workflows, starting child executions) happen on
whichever event loop the caller runs; a pool is tied to its loop, so each loop gets its
own, and pools of loops that have closed are dropped. A `LoopClients` belongs to what makes
the calls (the platform's `Launcher`; on the engine, the database's `Local`, shared by the
platform actions of the process).
"""

from __future__ import annotations

import asyncio
import threading

import httpx


class LoopClients:
    """The clients of one caller, one per event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[int, tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]] = {}

    def current(self, timeout: float) -> httpx.AsyncClient:
        """The client of the running event loop (created with `timeout` on first use)."""
        loop = asyncio.get_running_loop()
        found = self._clients.get(id(loop))
        if found is not None and found[0] is loop and not found[1].is_closed:
            return found[1]
        with self._lock:
            for key in [k for k, (other, _) in self._clients.items() if other.is_closed()]:
                del self._clients[key]
            client = httpx.AsyncClient(timeout=timeout)
            self._clients[id(loop)] = (loop, client)
        return client
