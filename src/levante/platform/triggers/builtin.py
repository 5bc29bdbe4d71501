"""The trigger types every installation has, as StackStorm's (pack ``core``): the end of
an execution, notifications, webhooks, the three timers, the datastore's key-value pair
events and a sensor process starting or stopping.

They are data, not a migration: :func:`ensure_builtin` writes them (idempotently) when the
API and the rules engine start, so a new field or description reaches every database
with the next start.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from levante.db import faults
from levante.db.connect import writing
from levante.platform.timers.schedule import ON_MISSED_SCHEMA
from levante.platform.triggers import store

log = logging.getLogger("levante.platform.triggers")

ACTION_TRIGGER = "core.st2.generic.actiontrigger"
NOTIFY_TRIGGER = "core.st2.generic.notifytrigger"
WEBHOOK = "core.st2.webhook"
INTERVAL_TIMER = "core.st2.IntervalTimer"
DATE_TIMER = "core.st2.DateTimer"
CRON_TIMER = "core.st2.CronTimer"
KV_CREATE = "core.st2.key_value_pair.create"
KV_UPDATE = "core.st2.key_value_pair.update"
KV_VALUE_CHANGE = "core.st2.key_value_pair.value_change"
KV_DELETE = "core.st2.key_value_pair.delete"
SENSOR_SPAWN = "core.st2.sensor.process_spawn"
SENSOR_EXIT = "core.st2.sensor.process_exit"


def _object(*names: str) -> dict[str, Any]:
    """A payload schema naming its fields (of any type), as StackStorm's do."""
    return {"type": "object", "properties": {name: {} for name in names}}


_CRON_FIELD = {"anyOf": [{"type": "integer"}, {"type": "string"}]}


def _cron(minimum: int | None = None, maximum: int | None = None) -> dict[str, Any]:
    if minimum is None or maximum is None:
        return dict(_CRON_FIELD)
    return {"anyOf": [{"type": "integer", "minimum": minimum, "maximum": maximum},
                      {"type": "string"}]}


TIMER_PAYLOAD = {
    "type": "object",
    "properties": {
        "executed_at": {"type": "string", "format": "date-time"},
        "schedule": {"type": "object"},
    },
}

# ref -> (description, payload schema, parameters schema)
BUILTIN: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    ACTION_TRIGGER: (
        "Emitted when an action execution ends, with its status, parameters and result.",
        _object("execution_id", "status", "start_timestamp", "action_name", "action_ref",
                "runner_ref", "parameters", "result"),
        {}),
    NOTIFY_TRIGGER: (
        "Emitted by the notify block of an action or execution when it ends.",
        _object("execution_id", "status", "start_timestamp", "end_timestamp", "action_ref",
                "runner_ref", "channel", "route", "message", "data"),
        {}),
    WEBHOOK: (
        "A webhook (POST /v1/webhooks/<url>) whose body and headers become the payload.",
        {"type": "object", "properties": {"headers": {"type": "object"}, "body": {}}},
        {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"],
         "additionalProperties": False}),
    INTERVAL_TIMER: (
        "Fires every `delta` `unit`s (e.g. every 30 seconds).",
        TIMER_PAYLOAD,
        {"type": "object",
         "properties": {"timezone": {"type": "string"},
                        "unit": {"enum": ["weeks", "days", "hours", "minutes", "seconds"]},
                        "delta": {"type": "integer"},
                        "on_missed": ON_MISSED_SCHEMA},
         "required": ["unit", "delta"], "additionalProperties": False}),
    DATE_TIMER: (
        "Fires once, at `date` (in `timezone`, UTC by default).",
        TIMER_PAYLOAD,
        {"type": "object",
         "properties": {"timezone": {"type": "string"},
                        "date": {"type": "string", "format": "date-time"},
                        "on_missed": ON_MISSED_SCHEMA},
         "required": ["date"], "additionalProperties": False}),
    CRON_TIMER: (
        "Fires whenever the time matches the given fields, as a cron schedule does.",
        TIMER_PAYLOAD,
        {"type": "object",
         "properties": {"timezone": {"type": "string"}, "year": _cron(),
                        "month": _cron(1, 12), "day": _cron(1, 31), "week": _cron(1, 53),
                        "day_of_week": _cron(0, 6), "hour": _cron(0, 23),
                        "minute": _cron(0, 59), "second": _cron(0, 59),
                        "on_missed": ON_MISSED_SCHEMA},
         "additionalProperties": False}),
    KV_CREATE: ("Emitted when a datastore item is created.", _object("object"), {}),
    KV_UPDATE: ("Emitted when a datastore item is set (created or updated).",
                _object("object"), {}),
    KV_VALUE_CHANGE: ("Emitted when the value of a datastore item changes.",
                      _object("old_object", "new_object"), {}),
    KV_DELETE: ("Emitted when a datastore item is deleted.", _object("object"), {}),
    SENSOR_SPAWN: ("Emitted when a sensor process starts.", _object("object"), {}),
    SENSOR_EXIT: ("Emitted when a sensor process stops.", _object("object"), {}),
}


def ensure_builtin(db: Engine) -> None:
    """Create or refresh the built-in trigger types (each start of the API and the rules
    engine), and the triggers of the parameterless ones (their own trigger, same ref).
    Two processes starting at once: the one that loses the race to insert tries again
    and finds the rows."""
    for attempt in range(3):
        try:
            with writing(db) as conn:
                for ref, (description, payload, parameters) in BUILTIN.items():
                    store.upsert_trigger_type(
                        conn, ref, description=description, payload_schema=payload,
                        parameters_schema=parameters)
                    if not parameters:
                        store.ensure_trigger(conn, ref, None, description)
            return
        except IntegrityError:
            if attempt == 2:
                raise
        except Exception as exc:
            # A database that refuses writes for now (read-only, failing over): the types
            # stored before serve; the next start writes what changed.
            if not faults.refuses_writes(exc):
                raise
            log.warning(faults.refused_line("registering the built-in trigger types", exc))
            return
