"""The datastore in the platform's Jinja (action parameters, action-chain nodes):
``{{ st2kv.system.x }}``, ``{{ st2kv.user.x }}`` (the execution's user), the old spelling
``{{ system.x }}``, and the ``decrypt_kv`` filter.

A key reads as its value (a secret as its ciphertext, which ``decrypt_kv`` decrypts); a
missing key is an undefined value whose error names the key. Keys are read when a
template reads them, never before. The crypto key file of each database is registered by
the process that serves it (:func:`configure`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import Engine

from levante.db.local import local_of
from levante.db.times import now
from levante.platform.datastore import pairs, store
from levante.platform.datastore.crypto import DecryptError
from levante.platform.datastore.pairs import Datastore, DatastoreError

NO_KEY = Path("/nonexistent/datastore_crypto_key")


class KeyFile:
    """Where the crypto key of one database's datastore is, for this process (a part of
    its engine's Local): templates rendered with only the engine at hand find it here."""

    def __init__(self) -> None:
        self.path: Path | None = None


def configure(db: Engine, key_path: Path) -> None:
    """Where the crypto key of ``db``'s datastore is (the API and the runner call this)."""
    local_of(db).part(KeyFile).path = key_path


def datastore_of(db: Engine) -> Datastore:
    return Datastore(db, local_of(db).part(KeyFile).path or NO_KEY)


class KeyValue(str):
    """A key's value as a template sees it; knows whether it is a secret's ciphertext."""

    ds: Datastore
    secret: bool
    lookup: KeyLookup
    key: str

    def __getattr__(self, name: str) -> Any:  # `st2kv.system.a.b` when `a` exists too
        if name.startswith("_"):
            raise AttributeError(name)
        return self.lookup.read(f"{self.key}.{name}")


class MissingKey(jinja2.StrictUndefined):
    """A key that does not exist: reading it fails naming it; a dotted name goes on."""

    def __init__(self, lookup: KeyLookup, key: str) -> None:
        super().__init__(hint=f'Key "{key}" does not exist in the datastore '
                              f"({lookup.where()}).", name=key)
        object.__setattr__(self, "_lookup", lookup)
        object.__setattr__(self, "_key", key)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            return super().__getattr__(name)
        lookup: KeyLookup = object.__getattribute__(self, "_lookup")
        return lookup.read(f"{object.__getattribute__(self, '_key')}.{name}")

    __getitem__ = __getattr__


class KeyLookup:
    """``st2kv.system`` or ``st2kv.user``: attribute or item access reads a key."""

    def __init__(self, ds: Datastore, scope: str, owner: str) -> None:
        self._ds = ds
        self._scope = scope
        self._owner = owner

    def where(self) -> str:
        return "system scope" if self._scope == pairs.SYSTEM else \
            f"user scope of {self._owner!r}"

    def read(self, key: str) -> Any:

        row = store.get(self._ds.db, self._scope, self._owner, key, now())
        if row is None:
            return MissingKey(self, key)
        value = KeyValue(row["value"])
        value.ds, value.secret, value.lookup, value.key = self._ds, bool(row["secret"]), \
            self, key
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.read(name)

    def __getitem__(self, name: Any) -> Any:
        return self.read(str(name))


class Root:
    """``st2kv``: its ``system`` and ``user`` scopes."""

    def __init__(self, ds: Datastore, user: str) -> None:
        self.system = KeyLookup(ds, pairs.SYSTEM, "")
        self.user = KeyLookup(ds, pairs.USER, user)
        self.ds = ds


def names(db: Engine, user: str) -> dict[str, Any]:
    """The names templates see for the datastore, for ``user``."""
    root = Root(datastore_of(db), user)
    return {"st2kv": root, "system": root.system}


@jinja2.pass_context
def decrypt_kv(context: jinja2.runtime.Context, value: Any) -> str:
    """A secret's value decrypted (``{{ st2kv.system.x | decrypt_kv }}``); also the
    ciphertext of a secret passed on as text."""
    if isinstance(value, jinja2.Undefined):
        str(value)  # raises, naming the missing key
    if isinstance(value, KeyValue):
        if not value.secret:
            return str(value)
        ds = value.ds
    else:
        root = context.get("st2kv")
        if not isinstance(root, Root):
            raise ValueError("decrypt_kv: the datastore is not available here")
        ds = root.ds
    try:
        return ds.cipher().decrypt(str(value))
    except DatastoreError as exc:
        raise ValueError(f"decrypt_kv: {exc.message}") from None
    except DecryptError as exc:
        raise ValueError(f"decrypt_kv: {exc}") from None
