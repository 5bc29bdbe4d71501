"""``/v1/timers``, as StackStorm's: the triggers of the timer types (``GET``; ``?timer_type=``
filters by type)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from levante.platform.api.common import ApiError, RouteTable, in_db, json_response, platform
from levante.platform.timers import schedule, store
from levante.platform.triggers.api import trigger_view


async def list_timers(request: Request) -> Response:
    wanted = request.query_params.get("timer_type")
    types: tuple[str, ...] = schedule.TIMER_TYPES
    if wanted:
        if wanted not in types:
            raise ApiError(400, f"'timer_type' must be one of {', '.join(types)}.")
        types = (wanted,)
    db = platform(request).db
    rows = await in_db(request, lambda: store.timer_triggers(db, types))
    return json_response([trigger_view(r) for r in rows])


async def get_timer(request: Request) -> Response:
    ref = str(request.path_params["ref"])
    db = platform(request).db
    rows = await in_db(request, lambda: store.timer_triggers(db, schedule.TIMER_TYPES, ref))
    if not rows:
        raise ApiError(404, f"Timer {ref} not found.")
    return json_response(trigger_view(rows[0]))


def routes() -> RouteTable:
    return [
        ("/v1/timers", list_timers, ["GET"]),
        ("/v1/timers/{ref}", get_timer, ["GET"]),
    ]
