"""``/v1/inquiries``, as StackStorm's: list the waiting inquiries, get one, answer one
(``PUT`` with ``{"id": ..., "response": {...}}``). Thin handlers over
:mod:`levante.platform.inquiries.service`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from levante.identity import keys
from levante.platform.api.common import (
    ApiError,
    Endpoint,
    execution_id,
    in_db,
    json_response,
    platform,
    query_int,
    query_limit,
    read_object,
    user_of,
)
from levante.platform.inquiries import answers, service
from levante.platform.inquiries import store as inquiry_store

DEFAULT_LIMIT = 50


def _id(request: Request) -> str:
    return execution_id(str(request.path_params["id"]), "The path's inquiry id")


async def list_inquiries(request: Request) -> Response:
    p = platform(request)
    limit = query_limit(request, DEFAULT_LIMIT)
    offset = query_int(request, "offset", 0) or 0
    rows, total = await in_db(request, lambda: inquiry_store.list_pending(p.db, limit, offset))
    headers = {"X-Total-Count": str(total)}
    if limit:
        headers["X-Limit"] = str(limit)
    return json_response([service.view(r) for r in rows], headers=headers)


async def get_inquiry(request: Request) -> Response:
    p = platform(request)
    inquiry_id = _id(request)
    try:
        row = await in_db(request, lambda: service.waiting(p.db, inquiry_id))
    except service.Unknown as exc:
        raise ApiError(404, str(exc)) from None
    except service.Closed as exc:
        raise ApiError(400, str(exc)) from None
    return json_response(service.view(row))


def _is_service_key(request: Request) -> bool:
    """Whether the request came with one of Levante's service keys (they pass roles)."""
    key = request.headers.get(keys.API_KEY_HEADER) or request.query_params.get("st2-api-key")
    if not key:
        return False
    found = keys.identity_for_api_key(platform(request).db, key)
    return bool(found and found.service)


async def respond(request: Request) -> Response:
    p = platform(request)
    inquiry_id = _id(request)
    body = await read_object(request)
    given = body.get("id")
    if given is not None and given != inquiry_id:
        raise ApiError(400, f"'id' in the body ({str(given)[:40]!r}) is not the inquiry of "
                            f"the path ({inquiry_id}).")
    response = body.get("response")
    if response is None or response == {}:
        raise ApiError(400, "The response is empty: 'response' must be a JSON object of "
                            "the answers the inquiry's schema asks for.")
    user = user_of(request)
    is_service = p.auth_enabled and _is_service_key(request)
    try:
        answered = await in_db(request, lambda: service.respond(
            p.db, inquiry_id, response, user, service=is_service,
            checked=p.auth_enabled), commits=True)
    except service.Unknown as exc:
        raise ApiError(404, str(exc)) from None
    except service.Closed as exc:
        raise ApiError(400, str(exc)) from None
    except answers.NotAllowed as exc:
        raise ApiError(403, str(exc)) from None
    except answers.BadAnswer as exc:
        raise ApiError(400, str(exc)) from None
    return json_response(answered)


ROUTES: tuple[tuple[str, Endpoint, list[str]], ...] = (
    ("/v1/inquiries", list_inquiries, ["GET"]),
    ("/v1/inquiries/{id}", get_inquiry, ["GET"]),
    ("/v1/inquiries/{id}", respond, ["PUT"]),
)


def routes() -> list[tuple[str, Endpoint, list[str]]]:
    """This feature's route table, mounted by the platform app (`api.app.FEATURES`)."""
    return list(ROUTES)
