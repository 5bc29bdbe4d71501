"""The base class of a pack's Python action, importable as StackStorm's
``st2common.runners.base_action.Action`` in action processes.

Standalone (standard library only): it runs in the pack's own virtual environment, where
Levante itself is not installed.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

__all__ = ["Action", "ActionService", "DatastoreError", "KeyValuePair"]


class DatastoreError(RuntimeError):
    """The platform refused a datastore call or could not be reached; says which."""


class KeyValuePair:
    """A key as ``list_values`` returns it (StackStorm's client model's attributes)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.id = doc.get("id")
        self.name = doc.get("name")
        self.value = doc.get("value")
        self.secret = bool(doc.get("secret"))
        self.encrypted = bool(doc.get("encrypted"))
        self.scope = doc.get("scope")
        self.user = doc.get("user")
        self.expire_timestamp = doc.get("expire_timestamp")

    def __repr__(self) -> str:
        shown = "********" if self.secret else self.value
        return f"<KeyValuePair name={self.name!r} value={shown!r} scope={self.scope!r}>"


class ActionService:
    """StackStorm's ``self.action_service``: the datastore over the platform's API, with
    the run's token (``ST2_ACTION_AUTH_TOKEN``, ``ST2_ACTION_API_URL``).

    As StackStorm: ``local=True`` (the default) names keys ``<pack>.<ActionClass>:<name>``;
    ``get_value`` of a missing key returns None; ``scope`` is ``system`` or ``user``.
    """

    def __init__(self, action_class: str = "Action") -> None:
        self._class = action_class

    def _prefix(self) -> str:
        return f"{os.environ.get('ST2_ACTION_PACK_NAME', '')}.{self._class}:"

    def _name(self, name: str, local: bool) -> str:
        return self._prefix() + name if local else name

    def _call(self, method: str, path: str, query: dict[str, str] | None = None,
              body: dict[str, Any] | None = None) -> Any:
        base = os.environ.get("ST2_ACTION_API_URL")
        token = os.environ.get("ST2_ACTION_AUTH_TOKEN")
        if not base or not token:
            raise DatastoreError("the datastore needs ST2_ACTION_API_URL and "
                                 "ST2_ACTION_AUTH_TOKEN (set for actions the platform runs)")
        url = base.rstrip("/") + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers={
            "X-Auth-Token": token, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            try:
                fault = json.loads(exc.read() or b"{}").get("faultstring")
            except ValueError:
                fault = None
            raise DatastoreError(f"datastore: HTTP {exc.code}: {fault or exc.reason}") \
                from None
        except OSError as exc:
            raise DatastoreError(f"datastore: cannot reach the platform ({exc})") from None
        return json.loads(raw) if raw else {}

    @staticmethod
    def _scope(scope: str) -> str:
        return scope[len("st2kv."):] if scope.startswith("st2kv.") else scope

    def get_value(self, name: str, local: bool = True, scope: str = "system",
                  decrypt: bool = False) -> str | None:
        doc = self._call("GET", "/keys/" + urllib.parse.quote(self._name(name, local), ""),
                         {"scope": self._scope(scope), "decrypt": str(bool(decrypt)).lower()})
        return None if doc is None else doc.get("value")

    def set_value(self, name: str, value: str, ttl: int | None = None, local: bool = True,
                  scope: str = "system", encrypt: bool = False) -> bool:
        key = self._name(name, local)
        body: dict[str, Any] = {"name": key, "value": value, "scope": self._scope(scope)}
        if ttl:
            body["ttl"] = ttl
        if encrypt:
            body["secret"] = True
        self._call("PUT", "/keys/" + urllib.parse.quote(key, ""), body=body)
        return True

    def delete_value(self, name: str, local: bool = True, scope: str = "system") -> bool:
        key = self._name(name, local)
        done = self._call("DELETE", "/keys/" + urllib.parse.quote(key, ""),
                          {"scope": self._scope(scope)})
        return done is not None

    def list_values(self, local: bool = True, prefix: str | None = None,
                    scope: str = "system", decrypt: bool = False) -> list[KeyValuePair]:
        wanted = (self._prefix() if local else "") + (prefix or "")
        query = {"scope": self._scope(scope), "decrypt": str(bool(decrypt)).lower(),
                 "limit": "-1"}
        if wanted:
            query["prefix"] = wanted
        docs = self._call("GET", "/keys", query) or []
        return [KeyValuePair(d) for d in docs]


def _action_logger(cls: type) -> logging.Logger:
    """A logger to stderr, named as StackStorm names an action's logger."""
    logger = logging.getLogger(f"actions.python.{cls.__name__}")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [-] %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.getLogger().level or logging.DEBUG)
    return logger


class Action:
    """What an action's code can use: ``self.config`` (its pack's config), ``self.logger``
    (to stderr) and ``self.action_service`` (the datastore).

    A subclass defines ``run(self, **params)``; what it returns is the execution's result,
    and a ``(False, value)`` tuple fails the execution with ``value``.
    """

    _levante_action_base = True

    def __init__(self, config: dict[str, Any] | None = None,
                 action_service: Any = None) -> None:
        self.config: dict[str, Any] = dict(config or {})
        self.logger = _action_logger(type(self))
        self.action_service = action_service if action_service is not None \
            else ActionService(type(self).__name__)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Do the action's work; subclasses override this."""
        raise NotImplementedError(f"{type(self).__name__}.run is not written")
