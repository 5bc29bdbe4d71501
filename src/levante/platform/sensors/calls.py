"""What a sensor asks of its container, answered in the container: dispatch a trigger (the
instance is committed before the answer) and use the datastore.

As StackStorm's sensor service: ``local=True`` keys are named
``<pack>.<SensorClass>:<name>``; the sensor acts as the service user ``sensor_service``
(admin: it may read secrets decrypted; its user-scoped keys are that user's).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jsonschema
from sqlalchemy import Engine

from levante.platform.datastore import pairs
from levante.platform.datastore.pairs import Caller, Datastore, DatastoreError
from levante.platform.sensors import store
from levante.platform.triggers import store as trigger_store

SENSOR_USER = "sensor_service"
CALLER = Caller(SENSOR_USER, True)


class CallRefused(ValueError):
    """A request the container refuses; the message goes back to the sensor."""


def key_prefix(pack: str, class_name: str) -> str:
    """The prefix of a sensor's own keys, as StackStorm's datastore service names them."""
    return f"{pack}.{class_name}:"


@dataclass(frozen=True)
class SensorCalls:
    """The answers for one sensor (``pack``, ``class_name``)."""

    db: Engine
    datastore: Datastore
    pack: str
    class_name: str
    validate_payloads: bool = True

    def _name(self, name: Any, local: Any) -> str:
        if not isinstance(name, str) or not name:
            raise CallRefused("a key needs a name (a non-empty string)")
        return key_prefix(self.pack, self.class_name) + name if local else name

    @staticmethod
    def _scope(raw: Any) -> str:
        try:
            return pairs.parse_scope(str(raw) if raw is not None else None, pairs.SYSTEM)
        except DatastoreError as exc:
            raise CallRefused(exc.message) from None

    def dispatch(self, trigger: Any, payload: Any = None, **_: Any) -> str:
        """Record one instance; its id. A payload that does not fit the trigger type's
        schema is refused (StackStorm's ``validate_trigger_payload``)."""
        if not isinstance(trigger, str) or not trigger:
            raise CallRefused("dispatch needs a trigger ref (a string)")
        if payload is not None and not isinstance(payload, dict):
            raise CallRefused("a trigger's payload must be an object (a dict) or None")
        if self.validate_payloads:
            schema = store.payload_schema(self.db, trigger)
            if schema:
                try:
                    jsonschema.validate(payload or {}, schema)
                except jsonschema.ValidationError as exc:
                    where = "/".join(str(p) for p in exc.absolute_path) or "(the payload)"
                    raise CallRefused(f"payload does not fit the schema of {trigger} at "
                                      f"{where}: {exc.message}") from None
                except jsonschema.SchemaError as exc:
                    raise CallRefused(f"the payload schema of {trigger} is not a valid "
                                      f"JSON schema: {exc.message}") from None
        return trigger_store.dispatch(self.db, trigger, payload or {})

    def get_value(self, name: Any, local: Any = True, scope: Any = "system",
                  decrypt: Any = False, **_: Any) -> str | None:
        try:
            doc = pairs.get_pair(self.datastore, CALLER, self._name(name, local),
                                 self._scope(scope), None, bool(decrypt))
        except DatastoreError as exc:
            if exc.status == 404:
                return None
            raise CallRefused(exc.message) from None
        return str(doc["value"])

    def set_value(self, name: Any, value: Any, ttl: Any = None, local: Any = True,
                  scope: Any = "system", encrypt: Any = False, **_: Any) -> bool:
        body: dict[str, Any] = {"value": str(value), "scope": self._scope(scope)}
        if ttl:
            body["ttl"] = ttl
        if encrypt:
            body["secret"] = True
        try:
            pairs.set_pair(self.datastore, CALLER, self._name(name, local), body)
        except DatastoreError as exc:
            raise CallRefused(exc.message) from None
        return True

    def delete_value(self, name: Any, local: Any = True, scope: Any = "system",
                     **_: Any) -> bool:
        try:
            pairs.delete_pair(self.datastore, CALLER, self._name(name, local),
                              self._scope(scope))
        except DatastoreError as exc:
            if exc.status == 404:
                return False
            raise CallRefused(exc.message) from None
        return True

    def list_values(self, local: Any = True, prefix: Any = None, scope: Any = "system",
                    decrypt: Any = False, **_: Any) -> list[dict[str, Any]]:
        wanted = (key_prefix(self.pack, self.class_name) if local else "") + str(prefix or "")
        try:
            docs, _total = pairs.list_pairs(self.datastore, CALLER, self._scope(scope), None,
                                            wanted or None, bool(decrypt))
        except DatastoreError as exc:
            raise CallRefused(exc.message) from None
        return docs

    def handler(self, op: str) -> Callable[..., Any] | None:
        """The function answering ``op``; None for an unknown request."""
        found: dict[str, Callable[..., Any]] = {
            "dispatch": self.dispatch, "get_value": self.get_value,
            "set_value": self.set_value, "delete_value": self.delete_value,
            "list_values": self.list_values}
        return found.get(op)

    def answer(self, message: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
        """The reply to one request line of the sensor."""
        op = str(message.get("op"))
        fields = {k: v for k, v in message.items() if k not in ("op", "id")}
        func = self.handler(op)
        if func is None:
            return {"op": "reply", "id": message.get("id"), "ok": False,
                    "error": f"unknown request {op!r}"}
        try:
            result = func(**fields)
        except CallRefused as exc:
            return {"op": "reply", "id": message.get("id"), "ok": False, "refused": True,
                    "error": str(exc)}
        except TypeError as exc:  # arguments the call does not take
            return {"op": "reply", "id": message.get("id"), "ok": False, "refused": True,
                    "error": f"{op}: {exc}"}
        except Exception as exc:
            log.exception("%s of sensor %s.%s failed", op, self.pack, self.class_name)
            return {"op": "reply", "id": message.get("id"), "ok": False,
                    "error": f"{op} failed in the sensor container: {exc}"}
        return {"op": "reply", "id": message.get("id"), "ok": True, "result": result}
