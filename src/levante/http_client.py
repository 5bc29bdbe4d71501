"""Shared outgoing HTTP clients: one connection pool per event loop, kept for reuse.

Calls between the services (launching workflows, starting child executions) happen on
whichever event loop the caller runs; a pool is tied to its loop, so each loop gets its
own, and pools of loops that have closed are dropped.
"""

from __future__ import annotations

import asyncio

import httpx

_clients: dict[int, tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]] = {}


def loop_client(timeout: float) -> httpx.AsyncClient:
    """The client of the running event loop (created with `timeout` on first use)."""
    loop = asyncio.get_running_loop()
    found = _clients.get(id(loop))
    if found is not None and found[0] is loop and not found[1].is_closed:
        return found[1]
    for key in [k for k, (other, _) in _clients.items() if other.is_closed()]:
        del _clients[key]
    client = httpx.AsyncClient(timeout=timeout)
    _clients[id(loop)] = (loop, client)
    return client
