"""``GET /v1/stream``: server-sent events, filtered by ``events``, ``action_refs``,
``execution_ids`` (or ``execution_id``), each a comma-separated list.

Authenticated like every route (st2client sends ``x-auth-token`` or ``st2-api-key`` as
query parameters here). With ``end_event`` and ``end_execution_id`` (what
``st2 execution tail`` sends) the stream ends after that event for that execution in an
ended status. A comment line every :data:`KEEPALIVE_SECONDS` keeps idle connections open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from levante.platform.api.common import ApiError, platform, user_of
from levante.platform.stream import events
from levante.platform.stream.hub import END, Filter, Hub

log = logging.getLogger("levante.platform.stream")

KEEPALIVE_SECONDS = 15.0
POLL_SECONDS = 0.005
READY_SECONDS = 10.0  # SQLite: how often the process looks at the change feed


def _list(request: Request, *names: str) -> frozenset[str] | None:
    values: list[str] = []
    for name in names:
        for raw in request.query_params.getlist(name):
            values.extend(v.strip() for v in raw.split(",") if v.strip())
    return frozenset(values) if values else None


def hub_of(request: Request) -> Hub:
    """The hub of this application (made on first use, in the serving event loop)."""
    state = request.app.state
    found: Hub | None = getattr(state, "stream_hub", None)
    if found is None:
        p = platform(request)
        found = Hub(p.db, p.web_base, POLL_SECONDS)
        state.stream_hub = found
    return found


def filter_of(request: Request) -> Filter:
    wanted = _list(request, "events")
    if wanted is not None:
        unknown = sorted(wanted - events.ALL_EVENTS)
        if unknown:
            raise ApiError(400, f"Query parameter 'events': {', '.join(unknown)} is not an "
                                "event of the stream (one of "
                                f"{', '.join(sorted(events.ALL_EVENTS))}).")
    return Filter(wanted, _list(request, "action_refs"),
                  _list(request, "execution_ids", "execution_id"))


async def stream(request: Request) -> Response:
    wanted = filter_of(request)
    end_event = request.query_params.get("end_event") or None
    end_id = request.query_params.get("end_execution_id") or None
    hub = hub_of(request)
    sub = hub.subscribe(wanted)
    try:
        # Answer once the feed is read: a client that then looks at an execution (as
        # `levante execution tail` does) misses none of its later changes.
        await asyncio.wait_for(hub.ready.wait(), READY_SECONDS)
    except TimeoutError:
        hub.unsubscribe(sub)
        raise ApiError(503, "The event stream cannot read the database now; try again.") \
            from None
    except BaseException:
        hub.unsubscribe(sub)
        raise
    log.info("event stream opened for %s (%d open)", user_of(request), len(hub.subscribers))

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 1000\n\n"
            while True:
                try:
                    item = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if item == END:
                    if sub.dropped:
                        yield b": dropped: this client did not keep up\n\n"
                    return
                yield item.data
                if (end_event and item.name == end_event and item.execution_id == end_id
                        and item.status in events.DONE):
                    return
        finally:
            hub.unsubscribe(sub)

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def routes() -> list[Route]:
    return [Route("/v1/stream", stream, methods=["GET"]),
            Route("/v1/stream/", stream, methods=["GET"])]
