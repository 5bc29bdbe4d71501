"""``/v1/webhooks``, as StackStorm's: ``POST /v1/webhooks/<url>`` records an instance of the
``core.st2.webhook`` trigger(s) of that URL with ``{"body": ..., "headers": ...}``;
``POST /v1/webhooks/st2`` records ``{"trigger": ref, "payload": {...}}``; both answer 202
with what was posted. ``GET /v1/webhooks`` lists the webhook triggers. Authenticated like
every route (an API key may come as the ``st2-api-key`` query parameter too, as st2's).

``/v1/webhooks/levante`` and ``/v1/webhooks/mistral`` are the engine's event receivers
(:mod:`levante.platform.api.events`), mounted before this table.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from levante import jsontext
from levante.platform.api.common import (
    ApiError,
    RouteTable,
    in_db,
    json_response,
    platform,
    read_body,
    read_json,
)
from levante.platform.triggers.api import trigger_view
from levante.platform.webhooks import store
from levante.platform.webhooks.generic import BadGenericRequest, generic_instance

# Credentials never reach a trigger's payload (StackStorm's copied every header).
HIDDEN_HEADERS = frozenset({"st2-api-key", "x-auth-token", "authorization", "cookie"})
FORM = "application/x-www-form-urlencoded"


def _header_name(name: str) -> str:
    """``x-github-event`` -> ``X-Github-Event``: the names StackStorm's payloads carry."""
    return "-".join(part.capitalize() for part in name.split("-"))


def headers_of(request: Request) -> dict[str, str]:
    return {_header_name(k): v for k, v in request.headers.items()
            if k.lower() not in HIDDEN_HEADERS}


async def body_of(request: Request) -> Any:
    """The posted body: JSON, or a form (``application/x-www-form-urlencoded``); an empty
    body is ``{}``. 400 naming the problem otherwise."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        body = await read_json(request, required=False, name="The webhook's body")
        return {} if body is None else body
    raw = await read_body(request)
    try:
        form = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise ApiError(400, "The webhook's form body is not UTF-8 text.") from None
    fields = {k: v[0] if len(v) == 1 else v for k, v in form.items()}
    try:
        jsontext.check(fields)  # (text that cannot be stored: the JSON's own rule)
    except jsontext.BadJson as exc:
        raise ApiError(400, f"The webhook's body cannot be accepted: {exc}.") from None
    return fields


async def post_webhook(request: Request) -> Response:
    url = str(request.path_params["url"])
    body = await body_of(request)
    db = platform(request).db
    if store.normalized(url) == store.GENERIC_URL:
        return await _post_generic(request, body)
    done = await in_db(request, lambda: store.post_url(
        db, url, {"body": body, "headers": headers_of(request)}), commits=True)
    if done is None:
        raise ApiError(404, f"Webhook {store.normalized(url)} not found.")
    return json_response(body, 202)


async def _post_generic(request: Request, body: Any) -> Response:
    if not isinstance(body, dict):
        raise ApiError(400, "The body of webhook st2 must be an object: {\"trigger\": "
                            "<trigger ref>, \"payload\": {...}}.")
    try:
        ref, payload = generic_instance(body.get("trigger"), body.get("payload"))
    except BadGenericRequest as exc:
        raise ApiError(400, str(exc)) from None
    db = platform(request).db
    done = await in_db(request, lambda: store.post_generic(db, ref, payload), commits=True)
    if done is None:
        raise ApiError(404, f"Trigger {ref} not found.")
    return json_response(body, 202)


async def list_webhooks(request: Request) -> Response:
    db = platform(request).db
    rows = await in_db(request, lambda: store.list_webhooks(db))
    return json_response([trigger_view(r) for r in rows])


async def get_webhook(request: Request) -> Response:
    url = store.normalized(str(request.path_params["url"]))
    db = platform(request).db
    rows = await in_db(request, lambda: store.list_webhooks(db))
    for row in rows:
        if store.url_of(row) == url:
            return json_response(trigger_view(row))
    raise ApiError(404, f"Webhook {url} not found.")


def routes() -> RouteTable:
    return [
        ("/v1/webhooks", list_webhooks, ["GET"]),
        ("/v1/webhooks/{url:path}", get_webhook, ["GET"]),
        ("/v1/webhooks/{url:path}", post_webhook, ["POST"]),
    ]
