"""`use_none`, as StackStorm's."""

from __future__ import annotations

from typing import Any

# What StackStorm renders None as through `use_none` (its parameter casting reads it back
# as None).
NONE_MAGIC_VALUE = "%*****__%NONE%__*****%"


def use_none(value: Any) -> Any:
    """`value`, or StackStorm's marker string for None."""
    return NONE_MAGIC_VALUE if value is None else value
