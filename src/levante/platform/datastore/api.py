"""``/v1/keys``: StackStorm's datastore API, thin handlers over :mod:`.pairs`.

st2client sends ``scope`` (``all`` when listing, ``system`` otherwise), ``decrypt``,
``user``, ``prefix``, ``limit`` and ``offset``; a listing answers ``X-Total-Count``.
"""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response

from levante.config import Config
from levante.identity.keys import API_KEY_HEADER, identity_for_api_key
from levante.platform.api.common import (
    ApiError,
    Endpoint,
    in_db,
    json_response,
    platform,
    query_bool,
    query_int,
    query_limit,
    read_object,
    user_of,
)
from levante.platform.datastore import pairs, render
from levante.platform.datastore.pairs import Caller, Datastore, DatastoreError


def datastore(request: Request) -> Datastore:
    return Datastore(platform(request).db, pairs.key_path_of(platform(request).config))


def caller(request: Request) -> Caller:
    """The requester, admin when authentication is off, when named in ``[datastore]
    admin_users`` or when calling with a service key (the engine, the platform)."""
    found = platform(request)
    user = user_of(request)
    if not found.auth_enabled or user in found.config.get_list("datastore", "admin_users"):
        return Caller(user, True)
    key = request.headers.get(API_KEY_HEADER) or request.query_params.get("st2-api-key")
    identity = identity_for_api_key(found.db, key) if key else None
    return Caller(user, bool(identity and identity.service))


def _name(request: Request) -> str:
    return str(request.path_params["name"])


def _user(request: Request) -> str | None:
    return request.query_params.get("user") or None


def _fail(exc: DatastoreError) -> ApiError:
    return ApiError(exc.status, exc.message)


async def list_keys(request: Request) -> Response:
    try:
        scope = pairs.parse_scope(request.query_params.get("scope"), pairs.SYSTEM, True)
        items, total = pairs.list_pairs(
            datastore(request), caller(request), scope, _user(request),
            request.query_params.get("prefix") or None, query_bool(request, "decrypt"),
            query_limit(request, None), query_int(request, "offset", 0) or 0)
    except DatastoreError as exc:
        raise _fail(exc) from None
    return json_response(items, headers={"X-Total-Count": str(total)})


async def get_key(request: Request) -> Response:
    try:
        scope = pairs.parse_scope(request.query_params.get("scope"), pairs.SYSTEM)
        item = pairs.get_pair(datastore(request), caller(request), _name(request), scope,
                              _user(request), query_bool(request, "decrypt"))
    except DatastoreError as exc:
        raise _fail(exc) from None
    return json_response(item)


async def put_key(request: Request) -> Response:
    body = await read_object(request)
    ds, who, name = datastore(request), caller(request), _name(request)
    try:
        item = await in_db(request, lambda: pairs.set_pair(
            ds, who, name, body, request.query_params.get("scope")), commits=True)
    except DatastoreError as exc:
        raise _fail(exc) from None
    return json_response(item)


async def delete_key(request: Request) -> Response:
    ds, who, name = datastore(request), caller(request), _name(request)
    try:
        scope = pairs.parse_scope(request.query_params.get("scope"), pairs.SYSTEM)
        await in_db(request, lambda: pairs.delete_pair(ds, who, name, scope, _user(request)),
                    commits=True)
    except DatastoreError as exc:
        raise _fail(exc) from None
    return Response(status_code=204)


# (path, endpoint, methods): mounted by the platform app's route table.
ROUTES: tuple[tuple[str, Endpoint, list[str]], ...] = (
    ("/v1/keys", list_keys, ["GET"]),
    ("/v1/keys/{name}", get_key, ["GET"]),
    ("/v1/keys/{name}", put_key, ["PUT"]),
    ("/v1/keys/{name}", delete_key, ["DELETE"]),
)


def configure(config: Config, db: Engine) -> None:
    """The platform app of ``db``: its rendering of parameters finds the crypto key."""
    render.configure(db, pairs.key_path_of(config))


def routes() -> list[tuple[str, Endpoint, list[str]]]:
    """This feature's route table, mounted by the platform app (`api.app.FEATURES`)."""
    return list(ROUTES)
