"""What an answer must be: valid against the inquiry's JSON schema, and from a user the
inquiry allows. Plain functions; the errors name what is wrong."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import jsonschema
from jsonschema import Draft4Validator
from jsonschema.exceptions import SchemaError, ValidationError

# The schema core.ask uses when it is given none, as StackStorm's: one boolean, required.
DEFAULT_SCHEMA: dict[str, Any] = {
    "title": "response_data",
    "type": "object",
    "properties": {
        "continue": {
            "type": "boolean",
            "description": "Would you like to continue the workflow?",
        },
    },
    "required": ["continue"],
}
# Users who may answer any inquiry that names roles: Levante has no RBAC roles, so only
# the administrator (and Levante's own service keys) pass a roles check.
ADMIN_USERS = frozenset({"admin"})
MAX_ERRORS = 5


class BadSchema(ValueError):
    """The schema an ask was given is not a JSON schema."""


class BadAnswer(ValueError):
    """An answer that does not fit the inquiry's schema (400)."""


class NotAllowed(PermissionError):
    """A user the inquiry does not allow to answer (403)."""


def _normalized(schema: Any) -> Any:
    """The schema with StackStorm's draft-3 ``required: true`` on a property turned into
    the ``required`` list of its object (packs written for StackStorm use both)."""
    if isinstance(schema, list):
        return [_normalized(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    out = {k: _normalized(v) for k, v in schema.items() if k != "required"
           or not isinstance(v, bool)}
    properties = out.get("properties")
    if isinstance(properties, Mapping):
        names = [name for name, spec in (schema.get("properties") or {}).items()
                 if isinstance(spec, Mapping) and spec.get("required") is True]
        if names:
            found = out.get("required")
            listed: list[Any] = list(found) if isinstance(found, list) else []
            out["required"] = [*listed, *(n for n in names if n not in listed)]
    return out


def checked_schema(schema: Any) -> dict[str, Any]:
    """The schema an ask will use (the default when empty); BadSchema naming the fault."""
    if schema is None or schema == {}:
        return copy.deepcopy(DEFAULT_SCHEMA)
    if not isinstance(schema, Mapping):
        raise BadSchema(f"'schema' must be a JSON schema (an object), not "
                        f"{type(schema).__name__}.")
    try:
        Draft4Validator.check_schema(_normalized(schema))
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the top"
        raise BadSchema(f"'schema' is not a valid JSON schema at {where}: "
                        f"{exc.message}") from None
    return dict(schema)


def _where(error: ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return f"response.{path}" if path else "response"


def validated_answer(inquiry_id: str, schema: Mapping[str, Any], response: Any
                     ) -> dict[str, Any]:
    """The answer with the schema's top-level defaults filled in; BadAnswer naming every
    property that is wrong (at most MAX_ERRORS)."""
    if not isinstance(response, Mapping):
        raise BadAnswer(f'Inquiry "{inquiry_id}": the response must be a JSON object, not '
                        f"{type(response).__name__}.")
    answer = dict(response)
    rules = _normalized(schema)
    for name, spec in (rules.get("properties") or {}).items():
        if isinstance(spec, Mapping) and "default" in spec and name not in answer:
            answer[name] = copy.deepcopy(spec["default"])
    validator_class = jsonschema.validators.validator_for(rules, default=Draft4Validator)
    errors = sorted(validator_class(rules).iter_errors(answer),
                    key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        shown = "; ".join(f"{_where(e)}: {e.message}" for e in errors[:MAX_ERRORS])
        more = f" (and {len(errors) - MAX_ERRORS} more)" if len(errors) > MAX_ERRORS else ""
        raise BadAnswer(f'Response for inquiry "{inquiry_id}" does not match its schema: '
                        f"{shown}{more}.")
    return answer


def check_permission(inquiry_id: str, user: str, users: Sequence[str],
                     roles: Sequence[str], *, service: bool = False) -> None:
    """NotAllowed unless ``user`` passes both checks, as StackStorm's: listed in
    ``users`` (when it lists any) and holding one of ``roles`` (when it lists any; without
    RBAC, only ADMIN_USERS and service keys hold a role)."""
    users_ok = not users or user in users
    roles_ok = not roles or service or user in ADMIN_USERS
    if not (users_ok and roles_ok):
        raise NotAllowed(f'User "{user}" does not have permission to respond to inquiry '
                         f'"{inquiry_id}".')
