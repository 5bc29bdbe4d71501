"""Ends the open streams when the API process stops (uvicorn waits for open responses)."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine

from levante.platform.stream.hub import close_all


class StreamCloser:
    """Ends the streams of the API on ``db`` once the process is stopping."""

    name = "stream-closer"

    def __init__(self, db: Engine) -> None:
        self.db = db

    async def run(self, stopping: asyncio.Event) -> None:
        await stopping.wait()
        close_all(self.db)
