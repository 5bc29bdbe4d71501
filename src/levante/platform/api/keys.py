"""/v1/apikeys and /auth/v1/tokens."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from levante.identity.keys import SERVICE_MARK
from levante.platform.api.common import (
    ApiError,
    json_response,
    platform,
    project,
    read_object,
    user_of,
)
from levante.platform.core import auth, store


def _find(request: Request) -> dict[str, Any]:
    key_id = request.path_params["id"]
    row = auth.find_api_key(platform(request).db, key_id)
    if row is None:
        raise ApiError(404, f'API key "{key_id}" cannot be found.')
    return row


def _not_own(request: Request, row: dict[str, Any]) -> None:
    """Refuse to delete or disable the key this very request came with."""
    if row["key_hash"] == request.scope.get("levante_key_hash"):
        raise ApiError(400, "This request is authenticated by that API key: use another "
                            "key to delete or disable it.")


async def list_keys(request: Request) -> Response:
    rows = store.list_api_keys(platform(request).db)
    return json_response([project(auth.api_key_view(r), request) for r in rows],
                         headers={"X-Total-Count": str(len(rows))})


async def get_key(request: Request) -> Response:
    return json_response(project(auth.api_key_view(_find(request)), request))


async def create_key(request: Request) -> Response:
    body = await read_object(request, required=False)
    user = body.get("user") or user_of(request)
    metadata = body.get("metadata") or {}
    if not isinstance(user, str) or len(user) > 255:
        raise ApiError(400, "'user' must be a string of at most 255 characters.")
    if not isinstance(metadata, dict):
        raise ApiError(400, "'metadata' must be an object.")
    if SERVICE_MARK in metadata:
        raise ApiError(400, f"'metadata.{SERVICE_MARK}' is reserved: service keys are made "
                            "by Levante itself.")
    key, row = auth.create_api_key(platform(request).db, user, metadata)
    return json_response({**auth.api_key_view(row), "key": key}, 201)


async def update_key(request: Request) -> Response:
    row = _find(request)
    body = await read_object(request)
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        raise ApiError(400, "'enabled' must be true or false.")
    if not enabled:
        _not_own(request, row)
    db = platform(request).db
    auth.set_api_key_enabled(db, str(row["id"]), enabled)
    return json_response(auth.api_key_view(_find(request)))


async def delete_key(request: Request) -> Response:
    row = _find(request)
    _not_own(request, row)
    auth.delete_api_key(platform(request).db, str(row["id"]))
    return Response(status_code=204)


async def create_token(request: Request) -> Response:
    """A token for the caller, who proved who they are with an API key."""
    body = await read_object(request, required=False)
    p = platform(request)
    ttl = body.get("ttl", p.token_ttl)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        raise ApiError(400, "'ttl' must be a positive number of seconds.")
    token = auth.create_token(p.db, user_of(request), min(ttl, p.token_ttl))
    return json_response(token, 201)
