"""`jsonpath_query`, as StackStorm's (which used `jsonpath-rw`; `jsonpath-ng` is its
maintained continuation, with the same grammar and results)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jsonpath_ng


@lru_cache(maxsize=512)
def _parsed(query: str) -> Any:
    return jsonpath_ng.parse(query)


def jsonpath_query(value: Any, query: Any) -> list[Any] | None:
    """The values `query` finds in `value`, in order; None when it finds none."""
    matches = [match.value for match in _parsed(query).find(value)]
    return matches or None
