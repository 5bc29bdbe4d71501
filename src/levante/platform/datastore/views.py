"""StackStorm's view of a key-value pair (the API's, and the key-value triggers'
payloads), apart from :mod:`.pairs` so that the store can build trigger payloads."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

SYSTEM = "system"
USER = "user"
FULL = {SYSTEM: "st2kv.system", USER: "st2kv.user"}
MASK = "********"


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def view(row: Mapping[str, Any], plain: str | None = None) -> dict[str, Any]:
    """StackStorm's KeyValuePair: a secret's value is its ciphertext unless ``plain``."""
    scope = FULL[row["scope"]]
    shown = plain if plain is not None else row["value"]
    doc: dict[str, Any] = {
        "id": row["id"],
        "uid": f"key_value_pair:{scope}:" + (f"{row['owner']}:" if row["owner"] else "")
        + row["name"],
        "name": row["name"],
        "value": shown,
        "secret": bool(row["secret"]),
        "encrypted": bool(row["secret"]) and plain is None,
        "scope": scope,
    }
    if row["scope"] == USER:
        doc["user"] = row["owner"]
    if row["expires_at"] is not None:
        doc["expire_timestamp"] = iso(row["expires_at"])
    return doc


def masked_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """The view with a secret's value masked (``********``), as StackStorm's key-value
    triggers carry it: never the plain value, nor the ciphertext."""
    doc = view(row)
    if doc["secret"]:
        doc["value"] = MASK
    return doc
