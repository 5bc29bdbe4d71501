"""`st2kv()` in workflow expressions: the platform's datastore, read over HTTP.

The engine never reads the platform's tables: it asks ``GET /v1/keys/<name>`` of the
platform that launched the workflow (``env.levante``: URL and service key), asserting the
user who started the workflow (``X-Levante-User``), so ``user.`` keys are that user's.
Without ``env.levante`` (a workflow started on the engine directly) it uses ``[api]
public_url`` and the engine's own service key.

As StackStorm: ``st2kv('system.x')`` reads the system's key ``x``; any other name
(``user.x`` drops its ``user.`` prefix) reads the user's key. A missing key is an error
naming it, unless a ``default`` is given.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from levante.engine.platform_actions import ENGINE_KEY_FILE
from levante.identity.keys import API_KEY_HEADER, ASSERTED_USER_HEADER, service_key

TIMEOUT = 4.0  # s: below the expressions' own time bound ([engine] expression_timeout)

class KeyNotFound(LookupError):
    """The key does not exist; the message names it."""


class DatastoreUnavailable(RuntimeError):
    """The platform refused or could not be reached; the message says why."""


@dataclass(frozen=True)
class Where:
    """The platform to ask, with which key, for which user."""

    api_url: str
    credential: str | None
    user: str | None
    execution_id: str | None = None  # the platform's execution that launched the workflow


def where_of(row: Mapping[str, Any], config: Any, db: Any) -> Where:
    """Where the datastore of the workflow execution ``row`` is."""
    params = row.get("params")
    env = params.get("env") if isinstance(params, Mapping) else None
    levante = env.get("levante") if isinstance(env, Mapping) else None
    levante = levante if isinstance(levante, Mapping) else {}
    runtime = row.get("runtime_context")
    user = runtime.get("user") if isinstance(runtime, Mapping) else None
    api_url = levante.get("api_url")
    credential = levante.get("credential")
    if not api_url:
        if config is None:
            raise DatastoreUnavailable("st2kv: the platform's URL is unknown (the workflow "
                                       "was not launched by the platform)")
        api_url = config.public_url("api")
    if not credential and config is not None and db is not None:

        credential = service_key(db, config.data_dir, "engine", ENGINE_KEY_FILE)
    execution_id = levante.get("execution_id")
    return Where(str(api_url).rstrip("/"), str(credential) if credential else None,
                 user if isinstance(user, str) and user else None,
                 str(execution_id) if execution_id else None)


def split_key(key: str) -> tuple[str, str]:
    """(scope, name) of an ``st2kv`` key."""
    if key.startswith("system."):
        return "system", key[len("system."):]
    if key.startswith("user."):
        return "user", key[len("user."):]
    return "user", key


class Datastore:
    """Reads of the platform's datastore, over one HTTP client (its connections kept
    alive between reads): one per engine runtime (`StepShared.datastore`), made with it."""

    def __init__(self, timeout: float = TIMEOUT) -> None:
        self._timeout = timeout
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        """The client, made at the first read (a runtime that never reads makes none)."""
        with self._lock:
            if self._client is None or self._client.is_closed:
                self._client = httpx.Client(timeout=self._timeout)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _user_of_execution(self, where: Where, headers: dict[str, str]) -> str | None:
        """The user of the platform execution that launched the workflow (when the engine
        did not record one: an engine without authentication)."""
        try:
            response = self._http().get(
                f"{where.api_url}/v1/executions/{where.execution_id}",
                headers=headers, params={"include_attributes": "context"})
            context = response.json().get("context") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        user = context.get("user") if isinstance(context, Mapping) else None
        return user if isinstance(user, str) and user else None

    def read_key(self, where: Where, key: Any, decrypt: bool = False) -> str:
        """The value of ``key`` (decrypted if asked); KeyNotFound when there is none."""
        if not isinstance(key, str) or not key:
            raise TypeError(f"st2kv: the key must be a non-empty string, not {key!r}")
        scope, name = split_key(key)
        if not name:
            raise TypeError(f"st2kv: {key!r} names no key")
        headers = {API_KEY_HEADER: where.credential} if where.credential else {}
        user = where.user
        if user is None and scope == "user" and where.execution_id:
            user = self._user_of_execution(where, headers)
        if user:
            headers[ASSERTED_USER_HEADER] = user
        try:
            response = self._http().get(
                f"{where.api_url}/v1/keys/{quote(name, safe='')}", headers=headers,
                params={"scope": scope, "decrypt": "true" if decrypt else "false"})
        except httpx.HTTPError as exc:
            raise DatastoreUnavailable(f"st2kv({key!r}): cannot reach the platform at "
                                       f"{where.api_url} ({type(exc).__name__})") from None
        if response.status_code == 404:
            raise KeyNotFound(f'The key "{key}" does not exist in the datastore.')
        if response.status_code >= 400:
            try:
                fault = str(response.json().get("faultstring"))
            except (ValueError, AttributeError):
                fault = response.reason_phrase
            raise DatastoreUnavailable(f"st2kv({key!r}): HTTP {response.status_code}: {fault}")
        value = response.json().get("value")
        return str(value) if value is not None else ""
