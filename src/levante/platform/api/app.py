"""The ASGI application: routes, authentication before anything else, errors as faultstring.

`create_app(config, db_engine)` is what `levante serve api` and `levante up` serve.

Mounting a feature package (``levante.platform.<feature>``): its ``api.py`` has
``routes() -> RouteTable`` (path, endpoint, methods; both slash forms are added here), and
one line in `FEATURES` below mounts it, after the core routes. The other mounts of a
feature are one line each too: its tables in ``levante.db.metadata.MODEL_MODULES``, its
Click commands in ``levante.cli.main.COMMANDS``, its services in ``levante.roles.FEATURE_SERVICES``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import Engine
from sqlalchemy.exc import DataError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from levante import web
from levante.config import Config
from levante.db import faults
from levante.identity.keys import ASSERTED_USER_HEADER, acting_user
from levante.platform.api import (
    actions,
    events,
    executions,
    keys,
    openapi,
    packs,
    unsupported,
)
from levante.platform.api.common import (
    ApiError,
    Endpoint,
    Platform,
    RouteTable,
    dumps,
    fault,
    unavailable,
)
from levante.platform.configs import api as configs_api
from levante.platform.core import auth
from levante.platform.core.executions import Conflict, NotFound, Refused
from levante.platform.core.pack_registry import UnknownPack
from levante.platform.core.parameters import ParameterError
from levante.platform.datastore import api as datastore_api
from levante.platform.inquiries import api as inquiries
from levante.platform.logins import api as logins
from levante.platform.logins.users import users_path
from levante.platform.rules import api as rules_api
from levante.platform.sensors import api as sensors_api
from levante.platform.stream import api as stream
from levante.platform.timers import api as timers_api
from levante.platform.triggers import api as triggers_api
from levante.platform.triggers.builtin import ensure_builtin
from levante.platform.webhooks import api as webhooks_api

log = logging.getLogger("levante.platform.api")

PUBLIC_PATHS = (
    frozenset({"/", "/v1/openapi.json", "/v1/openapi.json/"}) | events.PUBLIC | web.PUBLIC_PATHS
)
UNAUTHORIZED = "Unauthorized - One of Token or API key required."
INVALID = "Unauthorized - the API key or token is not valid."

# The feature packages' route tables, one line per feature.
FEATURES: tuple[Callable[[], RouteTable], ...] = (
    configs_api.routes,
    datastore_api.routes,
    inquiries.routes,
    triggers_api.routes,
    rules_api.routes,
    webhooks_api.routes,
    timers_api.routes,
    sensors_api.routes,
)


def _both(path: str, endpoint: Endpoint, methods: list[str]) -> list[Route]:
    """The route with and without a trailing slash (st2client asks for both)."""
    return [Route(path, endpoint, methods=methods),
            Route(path + "/", endpoint, methods=methods)]


def _routes() -> list[Route]:
    table: RouteTable = [
        ("/v1/actions", actions.list_actions, ["GET"]),
        ("/v1/actions", actions.create_action, ["POST"]),
        ("/v1/actions/views/overview", actions.list_actions, ["GET"]),
        ("/v1/actions/views/overview/{ref:path}", actions.get_action, ["GET"]),
        ("/v1/actions/views/parameters/{ref:path}", actions.action_parameters, ["GET"]),
        ("/v1/actions/views/entry_point/{ref:path}", actions.action_entry_point, ["GET"]),
        ("/v1/actions/{ref}", actions.get_action, ["GET"]),
        ("/v1/actions/{ref}", actions.update_action, ["PUT"]),
        ("/v1/actions/{ref}", actions.delete_action, ["DELETE"]),
        ("/v1/runnertypes", actions.list_runnertypes, ["GET"]),
        ("/v1/runnertypes/{name}", actions.get_runnertype, ["GET"]),
        ("/v1/executions", executions.list_executions, ["GET"]),
        ("/v1/executions", executions.create_execution, ["POST"]),
        ("/v1/executions/{id}", executions.get_execution, ["GET"]),
        ("/v1/executions/{id}", executions.update_execution, ["PUT"]),
        ("/v1/executions/{id}", executions.cancel_execution, ["DELETE"]),
        ("/v1/executions/{id}/children", executions.children, ["GET"]),
        ("/v1/executions/{id}/output", executions.output, ["GET"]),
        ("/v1/executions/{id}/result", executions.result, ["GET"]),
        ("/v1/executions/{id}/re_run", executions.re_run, ["POST"]),
        ("/v1/packs", packs.list_packs, ["GET"]),
        ("/v1/packs/register", packs.register, ["POST"]),
        ("/v1/packs/{ref}", packs.get_pack, ["GET"]),
        ("/v1/apikeys", keys.list_keys, ["GET"]),
        ("/v1/apikeys", keys.create_key, ["POST"]),
        ("/v1/apikeys/{id}", keys.get_key, ["GET"]),
        ("/v1/apikeys/{id}", keys.update_key, ["PUT"]),
        ("/v1/apikeys/{id}", keys.delete_key, ["DELETE"]),
        ("/auth/v1/tokens", keys.create_token, ["POST"]),
        ("/v1/openapi.json", openapi.document, ["GET"]),
        ("/", openapi.index, ["GET"]),
    ]
    for feature_routes in FEATURES:
        table += feature_routes()
    routes: list[Route] = []
    for path, endpoint, methods in table:
        if path == "/":
            routes.append(Route(path, endpoint, methods=methods))
        else:
            routes.extend(_both(path, endpoint, methods))
    return routes


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return fault(404, f"The resource {request.url.path} cannot be found.")
    if exc.status_code == 405:
        return fault(405, f"Method {request.method} is not allowed on {request.url.path}.")
    return fault(exc.status_code, str(exc.detail))


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return fault(exc.status, exc.message)


async def _parameter_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ParameterError)
    return fault(400, exc.message)


async def _data_error(request: Request, exc: Exception) -> Response:
    log.warning("refused a value the database cannot hold: %s", type(exc).__name__)
    return fault(400, "A value in the request cannot be stored or searched for.")


async def _internal(request: Request, exc: Exception) -> Response:
    if faults.refuses_writes(exc):
        log.warning("%s %s: the database refuses writes (%s)", request.method,
                    request.url.path, type(exc).__name__)
        return unavailable()
    log.error("unexpected error on %s %s: %s", request.method, request.url.path,
              type(exc).__name__, exc_info=exc)
    return fault(500, "Internal error; see the API log.")


async def _not_found(request: Request, exc: Exception) -> Response:
    return fault(404, str(exc))


async def _refused(request: Request, exc: Exception) -> Response:
    return fault(409 if isinstance(exc, Conflict) else int(getattr(exc, "status", 400)),
                 str(exc))


class Guard:
    """Authenticate every request before routing; turn any crash into a JSON error."""

    def __init__(self, app: ASGIApp, platform: Platform) -> None:
        self.app = app
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            await _send(send, 400, {"faultstring": "The URL holds a NUL character."})
            return
        if self.platform.auth_enabled and scope["path"] not in PUBLIC_PATHS:
            try:
                user, message = self._authenticate(scope)
            except Exception as exc:
                # The key could not be checked (a database session just ended, ...):
                # the request may be fine, so 503 (retried by clients and services),
                # never 401 (which says the key is wrong).
                refused = faults.refuses_writes(exc)
                if not refused:
                    log.exception("authentication failed")
                await _send(send, 503, {"faultstring": faults.MESSAGE if refused else
                                        "Authentication is unavailable; try again."},
                            {"retry-after": str(faults.RETRY_AFTER_SECONDS)})
                return
            if user is None:
                await _send(send, 401, {"faultstring": message})
                return
            scope["levante_user"] = user
            scope["levante_key_hash"] = message
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if not started and faults.refuses_writes(exc):
                await _send(send, 503, {"faultstring": faults.MESSAGE},
                            {"retry-after": str(faults.RETRY_AFTER_SECONDS)})
            elif not started:  # else the app's own handler answered and logged it
                log.exception("unexpected error on %s %s", scope.get("method"), scope["path"])
                await _send(send, 500, {"faultstring": "Internal error; see the API log."})

    def _authenticate(self, scope: Scope) -> tuple[str | None, str]:
        """(user, hash of the API key used) or (None, why not)."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        key = headers.get("st2-api-key") or (query.get("st2-api-key") or [None])[0]
        token = headers.get("x-auth-token") or (query.get("x-auth-token") or [None])[0]
        if not key and not token:
            return None, UNAUTHORIZED
        db = self.platform.db
        if key:
            found = auth.identity_for_api_key(db, key)
            if found:
                # A service key (the engine's) may say which user the request acts for.
                asserted = headers.get(ASSERTED_USER_HEADER.lower())
                return acting_user(found, asserted), found.key_hash
        if token:
            user = auth.user_for_token(db, token)
            if user:
                return user, ""
        return None, INVALID


async def _send(send: Send, status: int, body: dict[str, Any],
                extra: dict[str, str] | None = None) -> None:
    payload = dumps(body)
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(payload)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def create_app(config: Config, db_engine: Engine) -> ASGIApp:
    """The platform API for this configuration and database."""
    platform = Platform(
        config=config,
        db=db_engine,
        web_base=config.public_url("api"),
        allow_sudo=config.get_bool("runner", "allow_sudo"),
        default_timeout=config.get_int("runner", "default_timeout"),
        packs_paths=config.get_list("content", "packs_paths"),
        auth_enabled=config.get_bool("auth", "enabled"),
        token_ttl=config.get_int("auth", "token_ttl"),
    )
    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        """What the app holds (its committer threads) ends with it."""
        try:
            yield
        finally:
            platform.close()

    app = Starlette(
        lifespan=lifespan,
        # events: the hot path first; what st2 may call but Levante does not serve, last
        routes=events.routes() + _routes() + logins.routes() + stream.routes() + web.routes()
        + unsupported.routes(),
        exception_handlers={
            HTTPException: _http_error,
            ApiError: _api_error,
            ParameterError: _parameter_error,
            NotFound: _not_found,
            UnknownPack: _not_found,
            Refused: _refused,
            DataError: _data_error,
            Exception: _internal,
        },
    )
    app.router.redirect_slashes = False
    datastore_api.configure(config, db_engine)
    ensure_builtin(db_engine)
    app.state.platform = platform
    return logins.LoginGate(Guard(app, platform), db_engine, users_path(config),
                            platform.token_ttl)
