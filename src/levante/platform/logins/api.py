"""Tokens for users who log in with a password, and ``GET /v1/user`` (``st2 whoami``).

``st2 login`` and ``st2 auth`` POST to ``<auth url>/tokens`` with HTTP Basic credentials
(and ``{"ttl": N}`` when asked). :class:`LoginGate` sits in front of the API's guard: it
answers such a request itself (the guard would ask for a key), and passes every other
request on, ``/tokens`` renamed ``/auth/v1/tokens`` (an auth URL of ``http://host:9100``,
st2client's default, or of ``http://host:9101/auth/v1`` both work).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from levante.identity import keys
from levante.platform.api.common import (
    ApiError,
    fault,
    json_response,
    platform,
    read_object,
    user_of,
)
from levante.platform.core import auth
from levante.platform.logins.users import UsersFile

log = logging.getLogger("levante.platform.logins")

TOKEN_PATH = "/auth/v1/tokens"
SHORT_TOKEN_PATH = "/tokens"
WRONG = "Unauthorized - the user name or password is wrong."
BAD_HEADER = "Unauthorized - the Authorization header holds no valid HTTP Basic credentials."


def _token_path(path: str) -> str | None:
    """The canonical token path for `path`, or None when it is not one."""
    stripped = path.rstrip("/") or "/"
    if stripped in (TOKEN_PATH, SHORT_TOKEN_PATH):
        return TOKEN_PATH
    return None


def _basic(scope: Scope) -> str | None:
    """The raw Basic credentials of the request, or None when it has none."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            scheme, _, rest = value.decode("latin-1").partition(" ")
            if scheme.lower() == "basic":
                return rest.strip()
    return None


def parse_basic(raw: str) -> tuple[str, str] | None:
    try:
        text = base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, password = text.partition(":")
    if not sep or not name:
        return None
    return name, password


def ttl_of(body: dict[str, Any], maximum: int) -> int:
    """The token's lifetime: the one asked (bounded by `maximum`) or `maximum`."""
    ttl = body.get("ttl", maximum)
    if ttl is None:
        return maximum
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        raise ApiError(400, "'ttl' must be a positive number of seconds.")
    return min(ttl, maximum)


class LoginGate:
    """Answer password logins before the guard; pass everything else on."""

    def __init__(self, app: ASGIApp, db: Engine, users_file: Path, token_ttl: int) -> None:
        self.app = app
        self.db = db
        self.users = UsersFile(users_file)
        self.token_ttl = token_ttl

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            target = _token_path(scope["path"])
            if target is not None:
                raw = _basic(scope)
                if raw is not None and scope["method"] == "POST":
                    response = await self._login(Request(scope, receive), raw)
                    await response(scope, receive, send)
                    return
                if scope["path"] != target:
                    scope = {**scope, "path": target, "raw_path": target.encode()}
        await self.app(scope, receive, send)

    async def _login(self, request: Request, raw: str) -> Response:
        credentials = parse_basic(raw)
        if credentials is None:
            return fault(401, BAD_HEADER)
        name, password = credentials
        try:
            ttl = ttl_of(await read_object(request, required=False), self.token_ttl)
        except ApiError as exc:
            return fault(exc.status, exc.message)
        ok = await asyncio.to_thread(self.users.check, name, password)
        if not ok:
            log.info("refused a login as %r: wrong user name or password", name[:255])
            return fault(401, WRONG)
        token = await asyncio.to_thread(auth.create_token, self.db, name, ttl)
        log.info("user %r logged in (token for %d s)", name, ttl)
        return json_response(token, 201)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _secret(request: Request, header: str) -> tuple[str | None, str]:
    """The value of `header` (or its query parameter) and where it was found."""
    value = request.headers.get(header)
    if value:
        return value, "header"
    query = parse_qs(request.url.query)
    found = query.get(header.lower()) or []
    return (found[0] if found else None), "query"


async def whoami(request: Request) -> Response:
    """Who the request is authenticated as, and how (what ``st2 whoami`` prints)."""
    user = user_of(request)
    authentication: dict[str, Any]
    if request.scope.get("levante_key_hash"):
        _key, where = _secret(request, keys.API_KEY_HEADER)
        authentication = {"method": "api key", "location": where}
    else:
        token, where = _secret(request, keys.TOKEN_HEADER)
        row = keys.token_row(platform(request).db, token) if token else None
        authentication = {"method": "authentication token", "location": where,
                          "token_expire": _iso(row["expiry"]) if row else None}
    return json_response({
        "username": user,
        "authentication": authentication,
        "rbac": {"enabled": False, "roles": [], "is_admin": True},
    })


def routes() -> list[Route]:
    return [Route("/v1/user", whoami, methods=["GET"]),
            Route("/v1/user/", whoami, methods=["GET"])]
