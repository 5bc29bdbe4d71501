"""Ends the open streams when the API process stops (uvicorn waits for open responses)."""

from __future__ import annotations

import asyncio

from levante.platform.stream.hub import close_all


class StreamCloser:
    name = "stream-closer"

    async def run(self, stopping: asyncio.Event) -> None:
        await stopping.wait()
        close_all()
