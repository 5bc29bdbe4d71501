"""Checking an action call's parameters against the action's schema, the StackStorm way.

The schema is the runner's parameters overlaid by the action's (the action may override a
runner parameter's default or mark it immutable). Values arrive either typed (``st2`` sends
JSON) or as strings (``levante run ref k=v``), so strings are coerced to the declared type
as the ``st2`` CLI would have done. Every refusal names the parameter.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from levante.contract.wire import PLATFORM_SECRET_MASK
from levante.platform.core.json_types import is_of_type
from levante.platform.core.pack_types import ActionMeta
from levante.platform.core.param_render import RenderProblem, render_parameters

MASK = PLATFORM_SECRET_MASK  # (the contract says how a secret is shown)

_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}


_DATE_TIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LABEL_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def _is_date_time(text: str) -> bool:
    """RFC 3339 date-time, with its offset (JSON Schema's ``date-time``)."""
    if not _DATE_TIME_RE.match(text):
        return False
    try:
        datetime.fromisoformat(text.upper().replace(" ", "T").replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_date(text: str) -> bool:
    if not _DATE_RE.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_ip(version: int) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return False
        return address.version == version
    return check


def _is_uri(text: str) -> bool:
    """An absolute URI: a scheme, then something, and no blank anywhere."""
    if not text or any(c.isspace() for c in text):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return bool(_SCHEME_RE.match(parts.scheme)) and text.find(":") == len(parts.scheme) \
        and len(text) > len(parts.scheme) + 1


def _is_hostname(text: str) -> bool:
    name = text[:-1] if text.endswith(".") else text
    return 0 < len(name) <= 253 and all(_LABEL_RE.match(p) for p in name.split("."))


# The ``format`` values checked; any other is refused when the pack is registered.
FORMAT_CHECKS: dict[str, Callable[[str], bool]] = {
    "date-time": _is_date_time,
    "date": _is_date,
    "ipv4": _is_ip(4),
    "ipv6": _is_ip(6),
    "uri": _is_uri,
    "email": lambda text: bool(_EMAIL_RE.match(text)),
    "hostname": _is_hostname,
}


class ParameterError(ValueError):
    """A parameter value is refused; ``parameter`` names it (``''`` for the whole call)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


def merge_schema(
    runner_params: dict[str, dict[str, Any]], action_params: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Runner parameters overlaid, key by key, by the action's definitions."""
    merged: dict[str, dict[str, Any]] = {k: dict(v) for k, v in runner_params.items()}
    for name, spec in action_params.items():
        merged[name] = {**merged.get(name, {}), **spec}
    return merged


def secret_names(schema: dict[str, dict[str, Any]]) -> set[str]:
    """Names of the parameters declared ``secret: true``."""
    return {name for name, spec in schema.items() if spec.get("secret") is True}


def mask_secrets(schema: dict[str, dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``values`` where every secret parameter's value reads ``********``."""
    secrets = secret_names(schema)
    return {k: (MASK if k in secrets and v is not None else v) for k, v in values.items()}


def _type_list(spec: dict[str, Any]) -> list[str]:
    ptype = spec.get("type")
    if ptype is None:
        return []
    return list(ptype) if isinstance(ptype, list) else [str(ptype)]


def _describe(value: Any, spec: dict[str, Any] | None = None) -> str:
    if spec is not None and spec.get("secret") is True:
        return "(secret)"
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _coerce_one(value: Any, ptype: str) -> Any:
    """``value`` as ``ptype``; ``ValueError`` when it cannot be one."""
    if ptype == "null":
        if value is None or (isinstance(value, str) and value.strip().lower() in ("null", "none")):
            return None
        raise ValueError
    if value is None:
        raise ValueError
    if ptype == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int | float):
            return str(value)  # st2 CLI sends numbers typed by YAML/JSON; keep lenient
        raise ValueError
    if ptype == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            low = value.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ValueError
    if ptype == "integer":
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            return int(value.strip(), 10)
        raise ValueError
    if ptype == "number":
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int | float):
            return value
        if isinstance(value, str):
            text = value.strip()
            try:
                return int(text, 10)
            except ValueError:
                number = float(text)
                if number != number or number in (float("inf"), float("-inf")):
                    raise ValueError from None
                return number
        raise ValueError
    if ptype == "array":
        if isinstance(value, list | tuple):
            return list(value)
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                parsed = json.loads(text)
                if isinstance(parsed, list):
                    return parsed
                raise ValueError
            return [] if text == "" else [item.strip() for item in text.split(",")]
        raise ValueError
    if ptype == "object":
        if isinstance(value, dict):
            return value
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("{"):
                parsed = json.loads(text)
                if isinstance(parsed, dict):
                    return parsed
                raise ValueError
            result: dict[str, Any] = {}
            if text == "":
                return result
            for pair in text.split(","):
                key, sep, val = pair.partition("=")
                if not sep or not key.strip():
                    raise ValueError
                result[key.strip()] = val
            return result
        raise ValueError
    raise ValueError


def _coerce(name: str, value: Any, spec: dict[str, Any]) -> Any:
    types = _type_list(spec)
    if not types:
        return value
    # Keep a typed value that already matches before trying string conversions.
    order = sorted(types, key=lambda t: 0 if _matches(value, t) else 1)
    if isinstance(value, str) and "string" in types:
        parsed = _json_container(value, types)
        if parsed is not None:
            return parsed
        order = ["string", *[t for t in order if t != "string"]]
    for ptype in order:
        try:
            return _coerce_one(value, ptype)
        except (ValueError, TypeError):
            continue
    wanted = " or ".join(types)
    raise ParameterError(
        name, f"Parameter '{name}': value {_describe(value, spec)} is not of type {wanted}"
    )


def _json_container(value: str, types: list[str]) -> Any:
    """A JSON object or array written as text, for a parameter that may be one, else None.

    ``body='{"a": 1}'`` from ``k=v`` arguments is meant as an object when the parameter
    is typed ``[string, object, array]``: the st2 CLI parses JSON for such values too.
    """
    text = value.strip()
    wanted = {"{": "object", "[": "array"}.get(text[:1])
    if wanted is None or wanted not in types:
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if _matches(parsed, wanted) else None


def _matches(value: Any, ptype: str) -> bool:
    return is_of_type(value, ptype)


def _too_far(path: str, value: Any, spec: dict[str, Any], word: str, limit: Any) -> str:
    return f"Parameter '{path}': {_describe(value, spec)} is {word} the {limit}"


def _check_constraints(name: str, value: Any, spec: dict[str, Any]) -> None:
    """``enum``, bounds, ``pattern``, ``format`` and the array keywords on one value."""
    enum = spec.get("enum")
    if isinstance(enum, list) and value not in enum:
        choices = ", ".join(_describe(e) for e in enum)
        raise ParameterError(
            name, f"Parameter '{name}': value {_describe(value, spec)} is not one of: {choices}"
        )
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in spec and value < spec["minimum"]:
            raise ParameterError(name, _too_far(name, value, spec, "less than",
                                                f"minimum of {spec['minimum']}"))
        if "maximum" in spec and value > spec["maximum"]:
            raise ParameterError(name, _too_far(name, value, spec, "greater than",
                                                f"maximum of {spec['maximum']}"))
    if isinstance(value, str):
        _check_string(name, value, spec)
    if isinstance(value, list):
        _check_array(name, value, spec)


def _check_string(name: str, value: str, spec: dict[str, Any]) -> None:
    if "minLength" in spec and len(value) < spec["minLength"]:
        raise ParameterError(name, f"Parameter '{name}': shorter than "
                                   f"{spec['minLength']} characters")
    if "maxLength" in spec and len(value) > spec["maxLength"]:
        raise ParameterError(name, f"Parameter '{name}': longer than "
                                   f"{spec['maxLength']} characters")
    pattern = spec.get("pattern")
    if isinstance(pattern, str):
        try:
            found = re.search(pattern, value)
        except re.error as exc:
            raise ParameterError(name, f"Parameter '{name}': its pattern {pattern!r} is "
                                       f"invalid ({exc})") from None
        if found is None:
            raise ParameterError(name, f"Parameter '{name}': value {_describe(value, spec)} "
                                       f"does not match the pattern {pattern!r}")
    fmt = spec.get("format")
    if isinstance(fmt, str):
        check = FORMAT_CHECKS.get(fmt)
        if check is None:
            raise ParameterError(name, f"Parameter '{name}': format {fmt!r} is not supported")
        if not check(value):
            raise ParameterError(name, f"Parameter '{name}': value {_describe(value, spec)} "
                                       f"is not a valid {fmt}")


def _check_array(name: str, value: list[Any], spec: dict[str, Any]) -> None:
    if "minItems" in spec and len(value) < spec["minItems"]:
        raise ParameterError(name, f"Parameter '{name}': fewer than {spec['minItems']} items")
    if "maxItems" in spec and len(value) > spec["maxItems"]:
        raise ParameterError(name, f"Parameter '{name}': more than {spec['maxItems']} items")
    if spec.get("uniqueItems") is True:
        seen: set[str] = set()
        for index, item in enumerate(value):
            key = json.dumps(item, sort_keys=True, default=str)
            if key in seen:
                raise ParameterError(name, f"Parameter '{name}': item {index} "
                                           f"({_describe(item, spec)}) is repeated; the "
                                           "items must be unique")
            seen.add(key)


def _conform(path: str, value: Any, spec: dict[str, Any]) -> Any:
    """``value`` coerced to ``spec`` and checked against it, nested values included."""
    value = _coerce(path, value, spec)
    items = spec.get("items")
    if isinstance(value, list) and isinstance(items, dict):
        value = [_conform(f"{path}[{i}]", item, items) for i, item in enumerate(value)]
    if isinstance(value, dict):
        value = _conform_object(path, value, spec)
    _check_constraints(path, value, spec)
    return value


def _conform_object(path: str, value: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    properties = spec.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    extra = spec.get("additionalProperties", True)
    result: dict[str, Any] = {}
    for key, item in value.items():
        sub = properties.get(key)
        if isinstance(sub, dict):
            result[key] = _conform(f"{path}.{key}", item, sub)
        elif extra is False:
            allowed = ", ".join(sorted(properties)) or "none"
            raise ParameterError(path, f"Parameter '{path}': key {key!r} is not allowed "
                                       f"(allowed keys: {allowed})")
        elif isinstance(extra, dict):
            result[key] = _conform(f"{path}.{key}", item, extra)
        else:
            result[key] = item
    for key, sub in properties.items():
        if isinstance(sub, dict) and sub.get("required") is True and key not in value:
            raise ParameterError(path, f"Parameter '{path}': key {key!r} is required")
    return result


def validate_parameters(
    action: ActionMeta, runner_params: dict[str, dict[str, Any]], given: dict[str, Any],
    action_context: Mapping[str, Any] | None = None,
    config: Callable[[], Mapping[str, Any]] | None = None,
    datastore: Callable[[], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The parameters an execution runs with, or :class:`ParameterError` naming the bad one.

    Runner and action schemas are merged (the action wins), unknown names are refused, an
    ``immutable`` parameter refuses any value but its default, Jinja in values and defaults
    is rendered (see :mod:`levante.platform.core.param_render`; ``action_context`` and the
    pack's ``config`` are its context), strings are coerced to the declared type (``items``
    and ``properties`` too), ``enum``, bounds, ``pattern``, ``format``, the array keywords
    and ``additionalProperties`` are enforced, defaults fill what was not given, and
    ``required`` parameters without a value are refused. The result holds every parameter
    that has a value (given or default).
    """
    if not isinstance(given, dict):
        raise ParameterError("", "parameters must be an object of name to value")
    schema = merge_schema(runner_params, action.parameters)
    result: dict[str, Any] = {}
    for name in sorted(given):
        if name not in schema:
            known = ", ".join(sorted(schema)) or "none"
            raise ParameterError(
                str(name),
                f"Parameter '{name}' is not allowed for action {action.ref} "
                f"(known parameters: {known})",
            )
        spec = schema[name]
        # Giving an immutable parameter its own default changes nothing (a re-run resends
        # every parameter it ran with); any other value is an override, refused.
        if spec.get("immutable") and not ("default" in spec and given[name] == spec["default"]):
            raise ParameterError(
                name, f"Parameter '{name}' is immutable for action {action.ref} "
                      "and cannot be given a value",
            )
    pending: dict[str, Any] = {}
    for name, spec in schema.items():
        if name in given:
            value = given[name]
            if value is None and spec.get("required") and "null" not in _type_list(spec):
                raise ParameterError(name, f"Parameter '{name}' is required")
        elif "default" in spec:
            value = spec["default"]
            if value is None:
                if spec.get("required"):
                    raise ParameterError(
                        name, f"Parameter '{name}' is required for action {action.ref}"
                    )
                continue
        elif spec.get("required"):
            raise ParameterError(
                name, f"Parameter '{name}' is required for action {action.ref}"
            )
        else:
            continue
        if value is None:
            result[name] = None
            continue
        pending[name] = value

    def conform(name: str, value: Any) -> Any:
        if value is None:
            return None
        try:
            return _conform(name, value, schema[name])
        except ParameterError as exc:  # a nested value's error names its path
            raise ParameterError(name, exc.message) from None

    text_only = {n for n, spec in schema.items() if _type_list(spec) == ["string"]}
    try:
        result.update(render_parameters(
            pending, set(schema), conform, action_context or {},
            config or dict, text_only, secret_names(schema), datastore))
    except RenderProblem as exc:
        raise ParameterError(exc.parameter, exc.message) from None
    return result


def positional_and_named(
    schema: dict[str, dict[str, Any]], values: dict[str, Any], exclude: set[str]
) -> tuple[list[Any], dict[str, Any]]:
    """Split values into positional (ordered by ``position``) and named arguments."""
    positional: list[tuple[int, Any]] = []
    named: dict[str, Any] = {}
    for name, value in values.items():
        if name in exclude:
            continue
        position = schema.get(name, {}).get("position")
        if isinstance(position, int) and not isinstance(position, bool):
            positional.append((position, value))
        else:
            named[name] = value
    return [v for _, v in sorted(positional, key=lambda p: p[0])], named
