"""Key-value pairs as StackStorm has them: scopes, who may see what, the API's view.

Plain functions over the store, used by the API, the `levante key` commands and the
rendering of parameters. A secret is stored encrypted and shown as its ciphertext unless a
caller allowed to asks to decrypt it: an admin (``[datastore] admin_users``, Levante's
service keys, anyone without authentication) for any key, a user for their own keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from levante.db.times import now as utcnow
from levante.platform.datastore import store
from levante.platform.datastore.crypto import Cipher, CryptoKeyError, DecryptError
from levante.platform.datastore.views import SYSTEM as SYSTEM
from levante.platform.datastore.views import USER as USER
from levante.platform.datastore.views import view

ALL = "all"
MAX_NAME = 512
MAX_TTL = 10 * 365 * 86400


class DatastoreError(Exception):
    """A refused request; ``status`` is its HTTP status, the message names what is wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Caller:
    """Who asks: the user, and whether they may read every key decrypted."""

    user: str
    admin: bool


@dataclass(frozen=True)
class Datastore:
    """The database and the crypto key file secrets are encrypted with."""

    db: Engine
    key_path: Path

    def cipher(self) -> Cipher:
        try:
            return Cipher.from_file(self.key_path)
        except CryptoKeyError as exc:
            raise DatastoreError(503, str(exc)) from None


def key_path_of(config: Any) -> Path:
    """``[datastore] crypto_key_path``, else the key file in the data folder."""
    # lazy: keeps CLI start fast (cryptography loads only for secrets)
    from levante.platform.datastore.crypto import KEY_FILE_NAME

    path = config.get_str("datastore", "crypto_key_path")
    return Path(path).expanduser() if path else Path(config.data_dir) / KEY_FILE_NAME


def parse_scope(raw: str | None, default: str, allow_all: bool = False) -> str:
    """``system``/``user`` (StackStorm also says ``st2kv.system``/``st2kv.user``), or
    ``all`` where a listing allows it; 400 otherwise."""
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value.startswith("st2kv."):
        value = value[len("st2kv."):]
    if value in (SYSTEM, USER) or (allow_all and value == ALL):
        return value
    allowed = "system, user" + (", all" if allow_all else "")
    raise DatastoreError(400, f"Scope {raw[:40]!r} is not a datastore scope (one of "
                              f"{allowed}; st2kv.system and st2kv.user too).")


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise DatastoreError(400, "A key needs a name (a non-empty string).")
    if len(name) > MAX_NAME:
        raise DatastoreError(400, f"Key name is longer than {MAX_NAME} characters.")
    if "\x00" in name:
        raise DatastoreError(400, "Key name holds a NUL character.")
    return name


def owner_of(caller: Caller, scope: str, user: str | None) -> str:
    """The owner a request means: '' for the system, else the user named (admins only,
    for another user than themselves) or the caller."""
    if scope == SYSTEM:
        return ""
    if user and user != caller.user:
        if not caller.admin:
            raise DatastoreError(403, f"User {caller.user!r} may not use the keys of user "
                                      f"{user!r} (admins only).")
        return user
    return caller.user


def may_decrypt(caller: Caller, scope: str, owner: str) -> bool:
    return caller.admin or (scope == USER and owner == caller.user)


def _shown(ds: Datastore, row: Mapping[str, Any], decrypt: bool) -> dict[str, Any]:
    if decrypt and row["secret"]:
        try:
            return view(row, ds.cipher().decrypt(row["value"]))
        except DecryptError as exc:
            raise DatastoreError(500, f"Key {row['name']!r}: {exc}.") from None
    return view(row)


def _scope_words(scope: str, owner: str) -> str:
    return "system scope" if scope == SYSTEM else f"user scope of {owner!r}"


def get_pair(ds: Datastore, caller: Caller, name: str, scope: str = SYSTEM,
             user: str | None = None, decrypt: bool = False) -> dict[str, Any]:
    name = check_name(name)
    owner = owner_of(caller, scope, user)
    row = store.get(ds.db, scope, owner, name, utcnow())
    if row is None:
        raise DatastoreError(404, f'Key "{name}" does not exist in the datastore '
                                  f"({_scope_words(scope, owner)}).")
    if decrypt and row["secret"] and not may_decrypt(caller, scope, owner):
        raise DatastoreError(403, f'User {caller.user!r} may not decrypt key "{name}" '
                                  f"({_scope_words(scope, owner)}): admins only.")
    return _shown(ds, row, decrypt)


def list_pairs(ds: Datastore, caller: Caller, scope: str = SYSTEM, user: str | None = None,
               prefix: str | None = None, decrypt: bool = False, limit: int | None = None,
               offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    owners: list[tuple[str, str | None]] = []
    if scope in (SYSTEM, ALL):
        if decrypt and not caller.admin:
            raise DatastoreError(403, f"User {caller.user!r} may not decrypt system-scoped "
                                      "keys: admins only (or list --scope user).")
        owners.append((SYSTEM, ""))
    if scope in (USER, ALL):
        owners.append((USER, owner_of(caller, USER, user)))
    rows, total = store.list_pairs(ds.db, owners, prefix, limit, offset, utcnow())
    return [_shown(ds, r, decrypt) for r in rows], total


def _bool(body: Mapping[str, Any], field: str) -> bool:
    value = body.get(field, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise DatastoreError(400, f"'{field}' must be true or false, not {value!r}.")
    return value


def set_pair(ds: Datastore, caller: Caller, name: str, body: Mapping[str, Any],
             scope_param: str | None = None) -> dict[str, Any]:
    """Create or replace a key from StackStorm's PUT body (``value``, ``secret``,
    ``encrypted``, ``ttl``, ``scope``, ``user``)."""
    name = check_name(name)
    given = body.get("name")
    if given not in (None, name):
        raise DatastoreError(400, f"The body names key {given!r} but the path names "
                                  f"{name!r}.")
    value = body.get("value")
    if not isinstance(value, str):
        raise DatastoreError(400, f'Key "{name}": \'value\' must be a string (the datastore '
                                  "keeps text; store JSON as a string).")
    raw_scope = body.get("scope") if body.get("scope") is not None else scope_param
    if raw_scope is not None and not isinstance(raw_scope, str):
        raise DatastoreError(400, "'scope' must be a string.")
    scope = parse_scope(raw_scope, SYSTEM)
    user = body.get("user")
    if user is not None and (not isinstance(user, str) or len(user) > 255):
        raise DatastoreError(400, "'user' must be a user name (a string).")
    owner = owner_of(caller, scope, user or None)
    secret = _bool(body, "secret")
    encrypted = _bool(body, "encrypted")
    ttl = body.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int)
                            or not 0 < ttl <= MAX_TTL):
        raise DatastoreError(400, f'Key "{name}": \'ttl\' must be a number of seconds '
                                  f"from 1 to {MAX_TTL}, not {ttl!r}.")
    stored = value
    if secret or encrypted:
        cipher = ds.cipher()
        if encrypted:  # already the ciphertext (e.g. `st2 key load` of `key list -j`)
            try:
                cipher.decrypt(value)
            except DecryptError as exc:
                raise DatastoreError(400, f'Key "{name}" is given encrypted but {exc}.') \
                    from None
        else:
            stored = cipher.encrypt(value)
        secret = True
    stamp = utcnow()
    expires = stamp + timedelta(seconds=ttl) if ttl else None
    row = store.put(ds.db, scope, owner, name, stored, secret, expires, stamp)
    return view(row)


def delete_pair(ds: Datastore, caller: Caller, name: str, scope: str = SYSTEM,
                user: str | None = None) -> None:
    name = check_name(name)
    owner = owner_of(caller, scope, user)
    if not store.delete_pair(ds.db, scope, owner, name, utcnow()):
        raise DatastoreError(404, f'Key "{name}" does not exist in the datastore '
                                  f"({_scope_words(scope, owner)}).")


def value_of(ds: Datastore, scope: str, owner: str, name: str,
             decrypt: bool = False) -> str | None:
    """A key's value for rendering (no permission check: the platform's own read), or
    None when there is no such key."""
    row = store.get(ds.db, scope, owner, name, utcnow())
    if row is None:
        return None
    if decrypt and row["secret"]:
        try:
            return ds.cipher().decrypt(row["value"])
        except DecryptError as exc:
            raise DatastoreError(500, f"Key {name!r}: {exc}.") from None
    return str(row["value"])
