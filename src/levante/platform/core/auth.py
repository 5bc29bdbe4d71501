"""API keys and tokens of the platform API: the shared identity of :mod:`levante.identity`.

Only their SHA-256 hashes are stored; keys are shown once. Valid keys are cached for a
moment; deleting or disabling a key in this process drops the cache at once (other
processes within `CACHE_SECONDS`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from levante.identity import keys
from levante.identity.keys import CACHE_SECONDS as CACHE_SECONDS
from levante.identity.keys import create_api_key as create_api_key
from levante.identity.keys import hash_secret as hash_secret
from levante.identity.keys import identity_for_api_key as identity_for_api_key
from levante.identity.keys import user_for_api_key as user_for_api_key
from levante.identity.keys import user_for_token as user_for_token
from levante.platform.core import store

# Re-exported for callers that already hold `auth`.
from levante.platform.core.keyfile import KEY_FILE_NAME as KEY_FILE_NAME
from levante.platform.core.keyfile import read_key_file as read_key_file
from levante.platform.core.keyfile import write_key_file as write_key_file


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
    keys.forget_all(db)
    return done


def set_api_key_enabled(db: Engine, key_id: str, enabled: bool) -> None:
    store.update_api_key(db, key_id, {"enabled": enabled})
    keys.forget_all(db)


def create_token(db: Engine, user: str, ttl: int) -> dict[str, Any]:
    made = keys.create_token(db, user, ttl)
    return {"id": made["id"], "user": user, "token": made["token"],
            "expiry": store.iso(made["expiry"]), "metadata": {}}
