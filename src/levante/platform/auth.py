"""API keys and tokens: only their SHA-256 hashes are stored; keys are shown once.

A key is checked on every request, so valid hashes are cached for a moment; deleting or
disabling a key in this process drops the cache at once (other processes within
`CACHE_SECONDS`).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from levante.platform import store

# Re-exported for callers that already hold `auth`.
from levante.platform.keyfile import KEY_FILE_NAME as KEY_FILE_NAME
from levante.platform.keyfile import read_key_file as read_key_file
from levante.platform.keyfile import write_key_file as write_key_file

CACHE_SECONDS = 2.0
_cache: dict[str, tuple[float, str]] = {}
_cache_lock = threading.Lock()


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _forget_all() -> None:
    with _cache_lock:
        _cache.clear()


def create_api_key(
    db: Engine, user: str, metadata: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """A new key (returned once, in clear) and its stored record."""
    key = secrets.token_urlsafe(32)
    row = {
        "id": store.new_id(),
        "key_hash": hash_secret(key),
        "user": user,
        "created_at": store.now(),
        "enabled": True,
        "metadata": dict(metadata or {}),
    }
    store.insert_api_key(db, row)
    return key, row


def api_key_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "uid": f"api_key:{row['key_hash']}",
        "user": row["user"],
        "key_hash": row["key_hash"],
        "created_at": store.iso(row["created_at"]),
        "enabled": bool(row["enabled"]),
        "metadata": row["metadata"] or {},
    }


def find_api_key(db: Engine, id_or_key: str) -> dict[str, Any] | None:
    """A key record by id, hash, or the key itself."""
    return store.get_api_key(db, id_or_key) or store.get_api_key(db, hash_secret(id_or_key))


def delete_api_key(db: Engine, key_id: str) -> bool:
    done = store.delete_api_key(db, key_id)
    _forget_all()
    return done


def set_api_key_enabled(db: Engine, key_id: str, enabled: bool) -> None:
    store.update_api_key(db, key_id, {"enabled": enabled})
    _forget_all()


def user_for_api_key(db: Engine, key: str) -> str | None:
    digest = hash_secret(key)
    stamp = time.monotonic()
    with _cache_lock:
        hit = _cache.get(digest)
    if hit and hit[0] > stamp:
        return hit[1]
    row = store.get_api_key(db, digest)
    if row is None or not row["enabled"]:
        return None
    with _cache_lock:
        if len(_cache) > 10000:
            _cache.clear()
        _cache[digest] = (stamp + CACHE_SECONDS, row["user"])
    return str(row["user"])


def create_token(db: Engine, user: str, ttl: int) -> dict[str, Any]:
    token = secrets.token_hex(16)
    stamp = store.now()
    row: dict[str, Any] = {
        "id": store.new_id(),
        "token_hash": hash_secret(token),
        "user": user,
        "created_at": stamp,
        "expiry": stamp + timedelta(seconds=ttl),
        "metadata": {},
    }
    store.insert_token(db, row)
    return {"id": row["id"], "user": user, "token": token,
            "expiry": store.iso(row["expiry"]), "metadata": {}}


def user_for_token(db: Engine, token: str) -> str | None:
    row = store.get_token(db, hash_secret(token))
    if row is None:
        return None
    expiry = store.aware(row["expiry"])
    if expiry is None or expiry <= store.now():
        return None
    return str(row["user"])


