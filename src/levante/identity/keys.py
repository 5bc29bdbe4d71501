"""API keys and tokens: only their SHA-256 hashes are stored; keys are shown once.

A key is checked on every request, so valid keys are cached for a moment; deleting or
disabling a key in this process drops the cache at once (other processes within
`CACHE_SECONDS`).

*Service keys* are the keys Levante's own processes call each other with (the platform
calling the engine, the engine creating child executions on the platform). They are
ordinary API keys whose metadata holds ``levante_service: true``; they are made only by
:func:`service_key` (the platform API refuses that metadata), kept in clear in a file of
the data folder (mode 0600), and they alone may assert the user a request acts for
(header :data:`ASSERTED_USER_HEADER`).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from levante.db.local import local_of
from levante.db.times import aware as aware
from levante.db.times import now as now
from levante.identity import store

CACHE_SECONDS = 2.0
SERVICE_MARK = "levante_service"
ASSERTED_USER_HEADER = "X-Levante-User"
API_KEY_HEADER = "St2-Api-Key"
TOKEN_HEADER = "X-Auth-Token"


class _Remembered:
    """What this process remembers of a database's keys for a moment (the engine's
    `Local`): each check of a key is not a query."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # key hash -> (until, user, service key?)
        self.identities: dict[str, tuple[float, str, bool]] = {}
        self.service_keys: dict[str, str] = {}  # key file -> key


def _remembered(db: Engine) -> _Remembered:
    return local_of(db).part(_Remembered)


@dataclass(frozen=True)
class Identity:
    """Who a request comes from: the user, whether it is a service key, the key's hash
    (empty for a token)."""

    user: str
    service: bool = False
    key_hash: str = ""


def new_id() -> str:
    """24 hex digits: milliseconds since the epoch, then randomness (sorts by creation)."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(6)}"


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def is_service(row: Mapping[str, Any]) -> bool:
    metadata = row.get("metadata")
    return isinstance(metadata, Mapping) and metadata.get(SERVICE_MARK) is True


def forget_all(db: Engine) -> None:
    """Check every key again at its next use (after this process changed some)."""
    cache = _remembered(db)
    with cache.lock:
        cache.identities.clear()


def new_key() -> str:
    """A random key that never begins with "-": given to a CLI after an option
    (``--os-auth-token KEY``), such a key would be read as an option of its own."""
    while True:
        key = secrets.token_urlsafe(32)
        if not key.startswith("-"):
            return key


def create_api_key(
    db: Engine, user: str, metadata: Mapping[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """A new key (returned once, in clear) and its stored record."""
    key = new_key()
    row = {
        "id": new_id(),
        "key_hash": hash_secret(key),
        "user": user,
        "created_at": now(),
        "enabled": True,
        "metadata": dict(metadata or {}),
    }
    store.insert_api_key(db, row)
    return key, row


def identity_for_api_key(db: Engine, key: str) -> Identity | None:
    """Who holds the enabled key `key`, or None."""
    digest = hash_secret(key)
    stamp = time.monotonic()
    cache = _remembered(db)
    with cache.lock:
        hit = cache.identities.get(digest)
    if hit and hit[0] > stamp:
        return Identity(hit[1], hit[2], digest)
    row = store.get_api_key(db, digest)
    if row is None or not row["enabled"]:
        return None
    service = is_service(row)
    with cache.lock:
        if len(cache.identities) > 10000:
            cache.identities.clear()
        cache.identities[digest] = (stamp + CACHE_SECONDS, str(row["user"]), service)
    return Identity(str(row["user"]), service, digest)


def cached_identity(db: Engine, key: str) -> Identity | None:
    """The identity of `key` if this process checked it a moment ago (no query)."""
    digest = hash_secret(key)
    cache = _remembered(db)
    with cache.lock:
        hit = cache.identities.get(digest)
    if hit and hit[0] > time.monotonic():
        return Identity(hit[1], hit[2], digest)
    return None


def user_for_api_key(db: Engine, key: str) -> str | None:
    found = identity_for_api_key(db, key)
    return found.user if found else None


def create_token(db: Engine, user: str, ttl: int) -> dict[str, Any]:
    """A new token for `user` living `ttl` seconds: ``token`` in clear, ``expiry``."""
    token = secrets.token_hex(16)
    stamp = now()
    row: dict[str, Any] = {
        "id": new_id(),
        "token_hash": hash_secret(token),
        "user": user,
        "created_at": stamp,
        "expiry": stamp + timedelta(seconds=ttl),
        "metadata": {},
    }
    store.insert_token(db, row)
    return {"id": row["id"], "user": user, "token": token, "expiry": row["expiry"],
            "created_at": stamp, "metadata": {}}


def delete_token(db: Engine, token_id: str) -> bool:
    """Revoke a token by its id (True when it existed)."""
    return store.delete_token(db, token_id)


def token_row(db: Engine, token: str) -> dict[str, Any] | None:
    """The stored record of an unexpired token, or None."""
    row = store.get_token(db, hash_secret(token))
    if row is None:
        return None
    expiry = aware(row["expiry"])
    if expiry is None or expiry <= now():
        return None
    return {**row, "expiry": expiry, "created_at": aware(row["created_at"])}


def user_for_token(db: Engine, token: str) -> str | None:
    row = token_row(db, token)
    return str(row["user"]) if row else None


def authenticate(db: Engine, *secrets_given: str | None) -> Identity | None:
    """The identity of the first of `secrets_given` that is an enabled API key or an
    unexpired token, or None (the engine takes either in either header)."""
    for value in secrets_given:
        if not value:
            continue
        found = identity_for_api_key(db, value)
        if found:
            return found
        user = user_for_token(db, value)
        if user:
            return Identity(user)
    return None


def acting_user(identity: Identity, asserted: str | None) -> str:
    """The user a request acts for: the asserted one when a service key asserts one."""
    if identity.service and asserted and len(asserted) <= 255:
        return asserted
    return identity.user


def service_key(db: Engine, data_dir: Path, user: str, file_name: str) -> str:
    """The service key kept in ``data_dir/file_name`` (made on first use, mode 0600),
    owned by `user` (``engine``, ``platform``). Valid keys are remembered by this
    process for a moment only, so a key deleted by an operator is replaced."""
    path = data_dir / file_name
    cache = _remembered(db)
    with cache.lock:
        cached = cache.service_keys.get(str(path))
    if cached:
        found = identity_for_api_key(db, cached)
        if found and found.service:
            return cached
    key: str | None
    try:
        key = path.read_text(encoding="utf-8").strip() or None
    except OSError:
        key = None
    found = identity_for_api_key(db, key) if key else None
    if not key or found is None or not found.service:
        key, _row = create_api_key(db, user, {SERVICE_MARK: True,
                                              "created_by": "levante",
                                              "purpose": "calls between Levante's services"})
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{file_name}.{os.getpid()}.{threading.get_ident()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
        os.replace(tmp, path)
    with cache.lock:
        cache.service_keys[str(path)] = key
    return key
