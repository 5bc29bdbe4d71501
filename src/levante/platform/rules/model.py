"""A rule as StackStorm defines it (API body or a pack's ``rules/*.yaml``): checked, made
a row, and shown back as StackStorm's API shows it.

:func:`checked` refuses what could never work, naming the field: no name, an unknown
trigger type, trigger parameters its schema refuses, criteria with an unknown operator, no
action. What is only known when an event comes (an action's parameters rendered from the
payload) is the rules engine's to report, on the enforcement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from levante.platform.core.store import iso
from levante.platform.rules import criteria as criteria_mod
from levante.platform.timers import schedule

DEFAULT_PACK = "default"
RULE_TYPE = {"ref": "standard", "parameters": {}}


class RuleError(ValueError):
    """A rule that cannot be registered; the message names the field (400)."""


@dataclass(frozen=True)
class Rule:
    """A checked rule, ready to store (its trigger's ref is found when stored)."""

    name: str
    pack: str
    description: str
    enabled: bool
    trigger_type: str
    trigger_parameters: dict[str, Any]
    criteria: dict[str, Any]
    action: dict[str, Any]
    context: dict[str, Any]
    tags: list[Any]
    metadata_file: str

    @property
    def ref(self) -> str:
        return f"{self.pack}.{self.name}"


NAME_LIMIT = 255  # the `name` and `pack` columns


def _text(body: Mapping[str, Any], field: str, default: str | None = None,
          limit: int | None = None) -> str:
    value = body.get(field, default)
    if value is None:
        raise RuleError(f"'{field}' is required.")
    if not isinstance(value, str):
        raise RuleError(f"'{field}' must be a string, not {type(value).__name__}.")
    if limit is not None and len(value) > limit:
        raise RuleError(f"'{field}' must be at most {limit} characters.")
    return value


def _or_empty(value: Any, empty: Any) -> Any:
    """``value``, or ``empty`` when it is absent (None): a wrong type stays wrong."""
    return empty if value is None else value


def checked(body: Any, *, trigger_type: Callable[[str], Mapping[str, Any] | None],
            user: str, default_enabled: bool = False, pack: str | None = None,
            metadata_file: str = "") -> Rule:
    """The rule ``body`` describes, or RuleError naming what is wrong.

    ``trigger_type(ref)``: the registered trigger type (None if unknown); ``user``: whom
    its executions run as when ``context.user`` names nobody (empty: the rules engine's
    ``system_user``, for the rules of packs); ``pack``: the pack it belongs to whatever
    it says (a pack's rule files).
    """
    if not isinstance(body, Mapping):
        raise RuleError("A rule must be an object (name, trigger, criteria, action).")
    name = _text(body, "name", limit=NAME_LIMIT).strip()
    if not name:
        raise RuleError("'name' is required.")
    chosen_pack = (pack or _text(body, "pack", DEFAULT_PACK, limit=NAME_LIMIT).strip()
                   or DEFAULT_PACK)
    if "." in chosen_pack:
        raise RuleError(f"'pack': {chosen_pack!r} is not a pack name (no dots).")
    description = body.get("description") or ""
    if not isinstance(description, str):
        raise RuleError("'description' must be a string.")
    enabled = body.get("enabled", default_enabled)
    if not isinstance(enabled, bool):
        raise RuleError(f"'enabled' must be true or false, not {enabled!r}.")
    trigger = body.get("trigger")
    if not isinstance(trigger, Mapping) or not isinstance(trigger.get("type"), str) \
            or not trigger["type"]:
        raise RuleError("'trigger.type' is required: the ref of a trigger type, e.g. "
                        "core.st2.webhook.")
    type_ref = str(trigger["type"])
    found = trigger_type(type_ref)
    if found is None:
        raise RuleError(f"'trigger.type': trigger type \"{type_ref}\" is not registered.")
    parameters = _or_empty(trigger.get("parameters"), {})
    if not isinstance(parameters, Mapping):
        raise RuleError("'trigger.parameters' must be an object.")
    schema = found.get("parameters_schema") or {}
    if schema:
        try:
            jsonschema.validate(dict(parameters), schema)
        except jsonschema.ValidationError as exc:
            where = ".".join(str(p) for p in exc.absolute_path)
            raise RuleError(f"'trigger.parameters{'.' + where if where else ''}': "
                            f"{exc.message}") from None
        except jsonschema.SchemaError:
            pass  # a pack's bad schema does not make the rule wrong
    if type_ref in schedule.TIMER_TYPES:
        problem = schedule.problem(type_ref, parameters)
        if problem:
            raise RuleError(f"'trigger.parameters': {problem}.")
    try:
        rule_criteria = criteria_mod.validate(body.get("criteria"))
    except criteria_mod.CriteriaError as exc:
        raise RuleError(str(exc)) from None
    action = body.get("action")
    if not isinstance(action, Mapping) or not isinstance(action.get("ref"), str) \
            or not action["ref"]:
        raise RuleError("'action.ref' is required: the ref of the action to run, e.g. "
                        "core.local.")
    action_parameters = _or_empty(action.get("parameters"), {})
    if not isinstance(action_parameters, Mapping):
        raise RuleError("'action.parameters' must be an object.")
    context = _or_empty(body.get("context"), {})
    if not isinstance(context, Mapping):
        raise RuleError("'context' must be an object.")
    context = dict(context)
    if (not isinstance(context.get("user"), str) or not context["user"]) and user:
        context["user"] = user
    tags = _or_empty(body.get("tags"), [])
    if not isinstance(tags, list):
        raise RuleError("'tags' must be a list.")
    return Rule(name=name, pack=chosen_pack, description=description, enabled=enabled,
                trigger_type=type_ref, trigger_parameters=dict(parameters),
                criteria=rule_criteria,
                action={"ref": action["ref"], "parameters": dict(action_parameters)},
                context=context, tags=tags, metadata_file=metadata_file)


def view(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored rule as StackStorm's API shows it."""
    trigger = dict(row["trigger"] or {})
    trigger.setdefault("ref", row["trigger_ref"])
    return {
        "id": row["id"], "ref": row["ref"], "uid": f"rule:{row['pack']}:{row['name']}",
        "name": row["name"], "pack": row["pack"], "description": row["description"],
        "enabled": bool(row["enabled"]), "trigger": trigger,
        "criteria": row["criteria"] or {}, "action": row["action"] or {},
        "context": row["context"] or {}, "type": dict(RULE_TYPE),
        "tags": row["tags"] or [], "metadata_file": row["metadata_file"] or "",
    }


def enforcement_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """A rule enforcement as StackStorm's API shows it."""
    rule_ref = str(row["rule_ref"])
    pack, _, name = rule_ref.partition(".")
    shown = {
        "id": row["id"],
        "rule": {"id": row["rule_id"], "ref": rule_ref, "uid": f"rule:{pack}:{name}"},
        "trigger_instance_id": row["trigger_instance_id"],
        "execution_id": row["execution_id"] or "",
        "status": row["status"],
        "enforced_at": iso(row["enforced_at"]),
    }
    if row["failure_reason"]:
        shown["failure_reason"] = row["failure_reason"]
    return shown
