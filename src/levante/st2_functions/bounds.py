"""Bounds shared by StackStorm's functions, whichever service runs them.

The functions run inside expressions whose time the engine bounds with a watchdog, and in
the platform's rendered Jinja. Work done in one call into C cannot be interrupted (a
regular expression backtracking, `json.dumps` of a list that holds the same big list many
times), so such work is bounded before it starts: regular expressions run on the `regex`
engine with a timeout (the time left to the running expression, as the code that runs
the expression tells through `time_budget`), and the values a function would walk
through are counted first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import regex  # (no type hints: its objects are Any here)

# Most values (items of lists, keys and values of dicts, counted each time they appear)
# that one function may walk through, and the longest string one may build.
MAX_VALUES = 1_000_000
MAX_STRING = 16 * 1024 * 1024
# Seconds a regular expression may run when no expression bound is known.
DEFAULT_TIMEOUT = 5.0


class LimitExceeded(ValueError):
    """A function was asked for more than a bound allows; the message names the bound."""


class RegexTimeout(LimitExceeded):
    """A regular expression ran past its time bound."""


def _default_budget() -> float:
    return DEFAULT_TIMEOUT


# What gives the seconds a regular expression may still take, in the running context.
_TIME_BUDGET: ContextVar[Callable[[], float]] = ContextVar(
    "st2_functions_time_budget", default=_default_budget)


@contextmanager
def time_budget(budget: Callable[[], float]) -> Iterator[None]:
    """Within the block, `budget()` gives the seconds a regular expression may still take
    (e.g. the time left to the expression that runs); outside, DEFAULT_TIMEOUT."""
    token = _TIME_BUDGET.set(budget)
    try:
        yield
    finally:
        _TIME_BUDGET.reset(token)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def walk_size(value: Any, what: str) -> tuple[int, int]:
    """(values, depth) of `value`, shared parts counted each time they appear; raises
    LimitExceeded past MAX_VALUES values. A Python walk: the expression bound can stop it."""
    if type(value) in _SCALARS:
        return 1, 0
    sizes: dict[int, tuple[int, int]] = {}

    def size(item: Any) -> tuple[int, int]:
        known = sizes.get(id(item))
        if known is not None:
            return known
        sizes[id(item)] = (0, 0)  # (a list that holds itself)
        children: Any = list(item.values()) if isinstance(item, Mapping) else list(item)
        total = 1 + (2 * len(children) if isinstance(item, Mapping) else len(children))
        depth = 1
        for child in children:
            if isinstance(child, Mapping | list | tuple | set | frozenset):
                count, inner = size(child)
                total += count
                depth = max(depth, inner + 1)
                if total > MAX_VALUES:
                    break
        if total > MAX_VALUES:
            raise LimitExceeded(f"{what} would go through more than {MAX_VALUES} values "
                                "(the limit; a value that appears several times counts "
                                "each time)")
        sizes[id(item)] = (total, depth)
        return total, depth

    if isinstance(value, Mapping | list | tuple | set | frozenset):
        return size(value)
    return 1, 0


def check_output(values: int, depth: int, indent: Any, what: str) -> None:
    """An indented dump writes about `values` lines of up to `depth * indent` spaces."""
    width = len(indent) if isinstance(indent, str) else indent
    if isinstance(width, int) and width > 0 and values * (depth * width + 1) > MAX_STRING:
        raise LimitExceeded(f"{what} would build a string of more than {MAX_STRING} "
                            "characters (the limit)")


def check_length(length: int, what: str) -> None:
    if length > MAX_STRING:
        raise LimitExceeded(f"{what} would build a string of more than {MAX_STRING} "
                            "characters (the limit)")


def as_text(value: Any, what: str) -> str:
    """`value` as the string StackStorm's functions make of a non-string argument."""
    if isinstance(value, str):
        return value
    walk_size(value, what)
    return str(value)


# --- regular expressions -------------------------------------------------------------

IGNORECASE = regex.IGNORECASE


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str, flags: int = 0) -> Any:
    # VERSION0: the semantics of Python's `re`, which StackStorm's functions used.
    return regex.compile(pattern, flags | regex.VERSION0)


def bounded(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`call(*args, timeout=..., ...)` of a compiled pattern, bounded in time."""
    try:
        return call(*args, timeout=max(0.001, _TIME_BUDGET.get()()), concurrent=True, **kwargs)
    except TimeoutError:
        raise RegexTimeout("the regular expression ran out of time (the time bound of "
                           "the expression)") from None
