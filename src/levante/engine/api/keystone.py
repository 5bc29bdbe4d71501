"""The small part of the Keystone v3 identity API that keystoneauth (and so the real
``mistral`` CLI) uses, served by the engine at ``/identity``.

- ``GET /identity`` and ``GET /identity/v3``: version discovery.
- ``POST /identity/v3/auth/tokens``: the ``token`` method with an API key or a token of
  the shared identity tables. The answer's ``X-Subject-Token`` is that same credential
  (the engine takes an API key wherever it takes a token), and its body is a Keystone
  token whose catalog has a ``workflowv2`` service: the engine's ``/v2``.
  The ``password`` method needs users; Levante has no user store yet, so it answers 401
  saying so.

Example: ``mistral --os-mistral-url http://127.0.0.1:8989/v2
--os-auth-url http://127.0.0.1:8989/identity/v3 --os-auth-token <key> workflow-list``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from levante.engine.api.errors import ApiError
from levante.engine.api.http import json_body
from levante.identity import keys

VERSION = "v3.14"
UPDATED = "2020-04-07T00:00:00Z"
MEDIA = [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]
DOMAIN = {"id": "default", "name": "Default"}
PROJECT = {"id": "default", "name": "default", "domain": DOMAIN}
NO_USERS = ("Password authentication is not available: Levante has no user store yet. "
            "Use the token method with an API key (mistral --os-auth-token <key>).")
DEFAULT_TTL = 86400


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _v3(request: Request) -> dict[str, Any]:
    return {"id": VERSION, "status": "stable", "updated": UPDATED, "media-types": MEDIA,
            "links": [{"rel": "self", "href": f"{_base(request)}/identity/v3/"}]}


async def versions(request: Request) -> Response:
    return JSONResponse({"versions": {"values": [_v3(request)]}})


async def version_v3(request: Request) -> Response:
    return JSONResponse({"version": _v3(request)})


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _secret(auth: Mapping[str, Any]) -> str:
    identity = auth.get("identity")
    if not isinstance(identity, Mapping):
        raise ApiError(400, "Field 'auth.identity' is required")
    methods = identity.get("methods")
    if not isinstance(methods, list) or not methods:
        raise ApiError(400, "Field 'auth.identity.methods' must be a non-empty list")
    if "token" in methods:
        token = identity.get("token")
        value = token.get("id") if isinstance(token, Mapping) else None
        if not isinstance(value, str) or not value:
            raise ApiError(400, "Field 'auth.identity.token.id' is required")
        return value
    if "password" in methods:
        raise ApiError(401, NO_USERS)
    raise ApiError(401, f"Authentication method(s) {methods} are not supported; use 'token'")


def _ttl(request: Request) -> int:
    config = request.app.state.config
    return config.get_int("auth", "token_ttl") if config is not None else DEFAULT_TTL


async def create_token(request: Request) -> Response:
    """``POST /identity/v3/auth/tokens`` (token method)."""
    data = await json_body(request)
    auth = data.get("auth")
    if not isinstance(auth, Mapping):
        raise ApiError(400, "Field 'auth' is required")
    secret = _secret(auth)
    db = request.app.state.db.engine
    found = await asyncio.to_thread(keys.identity_for_api_key, db, secret)
    issued = datetime.now(UTC)
    expires = issued + timedelta(seconds=_ttl(request))
    if found is None:
        row = await asyncio.to_thread(keys.token_row, db, secret)
        if row is None:
            raise ApiError(401, "The request you have made requires authentication: the "
                                "token is not a valid API key or token.")
        user = str(row["user"])
        expires = row["expiry"]
        issued = row["created_at"] or issued
    else:
        user = found.user
    v2 = f"{_base(request)}/v2"
    catalog = [{
        "id": "levante-engine", "type": "workflowv2", "name": "mistral",
        "endpoints": [
            {"id": f"levante-engine-{interface}", "interface": interface, "url": v2,
             "region": "RegionOne", "region_id": "RegionOne"}
            for interface in ("public", "internal", "admin")
        ],
    }]
    body: dict[str, Any] = {"token": {
        "methods": ["token"],
        "user": {"id": user, "name": user, "domain": DOMAIN, "password_expires_at": None},
        "audit_ids": [uuid.uuid4().hex[:22]],
        "issued_at": _iso(issued),
        "expires_at": _iso(expires),
        "roles": [{"id": "member", "name": "member"}],
        "catalog": catalog,
    }}
    if auth.get("scope"):
        body["token"]["project"] = PROJECT
        body["token"]["is_domain"] = False
    return JSONResponse(body, status_code=201, headers={"X-Subject-Token": secret})
