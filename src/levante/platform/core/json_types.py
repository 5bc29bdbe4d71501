"""Whether a value is of a JSON-schema type, as action parameters and pack configs declare
them (a boolean is not an integer, an integer is a number)."""

from __future__ import annotations

from typing import Any

_CHECKS = {
    "null": lambda v: v is None,
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def is_of_type(value: Any, ptype: str, unknown: bool = False) -> bool:
    """Whether `value` is a `ptype`; `unknown` answers for a type name not listed here."""
    check = _CHECKS.get(ptype)
    return bool(check(value)) if check is not None else unknown
