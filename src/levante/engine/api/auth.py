"""Authentication of the engine API: every route but the version roots, the OpenAPI
document and the Keystone identity endpoints needs an API key or a token of the shared
identity tables (:mod:`levante.identity`), in ``X-Auth-Token`` or ``St2-Api-Key``.

A request without one, or with one that is not valid, gets 401 with a Mistral fault body.
The user the request acts for is put in the ASGI scope (``levante_user``): the key's or
token's owner, or, for a service key of Levante (the platform's), the user it asserts in
``X-Levante-User``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from sqlalchemy import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from levante.identity.keys import (
    ASSERTED_USER_HEADER,
    Identity,
    acting_user,
    authenticate,
    cached_identity,
)

log = logging.getLogger("levante.engine.api")

PUBLIC_PATHS = frozenset({
    "/", "/v2", "/v2/", "/v2/openapi.json",
    "/identity", "/identity/", "/identity/v3", "/identity/v3/",
    "/identity/v3/auth/tokens",
})
MISSING = "Unauthorized - an API key or token is required (X-Auth-Token or St2-Api-Key)."
INVALID = "Unauthorized - the API key or token is not valid."
UNAVAILABLE = "Authentication is unavailable; try again."


def user_of(scope: Scope) -> str | None:
    """The authenticated user of a request (None when authentication is off)."""
    user = scope.get("levante_user")
    return user if isinstance(user, str) else None


class EngineAuth:
    """ASGI middleware: authenticate before routing."""

    def __init__(self, app: ASGIApp, db: Engine, enabled: bool = True) -> None:
        self.app = app
        self.db = db
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.enabled or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        key = headers.get("st2-api-key")
        token = headers.get("x-auth-token")
        if not key and not token:
            await _deny(send, 401, MISSING)
            return
        found: Identity | None = None
        for value in (key, token):
            if value:
                found = cached_identity(self.db, value)
                if found:
                    break
        if found is None:
            try:
                found = await asyncio.to_thread(authenticate, self.db, key, token)
            except Exception:
                log.exception("authentication failed")
                await _deny(send, 503, UNAVAILABLE)
                return
        if found is None:
            await _deny(send, 401, INVALID)
            return
        scope["levante_user"] = acting_user(found, headers.get(ASSERTED_USER_HEADER.lower()))
        await self.app(scope, receive, send)


async def _deny(send: Send, status: int, message: str) -> None:
    body: dict[str, Any] = {"faultstring": message, "debuginfo": None, "error_code": status}
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
