"""Regular expressions of YAQL and Jinja, on the `regex` engine, bounded in time.

Python's `re` backtracks in C without releasing the interpreter: `(a+)+$` against a long
run of `a` and a `!` never ends and nothing else in the process runs meanwhile. The `regex`
engine checks a timeout while it matches (coarsely: it may overrun it by a fraction) and
releases the interpreter meanwhile; every call here passes the time left to the running
expression (`limits.remaining()`), and a timeout fails the expression.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import regex  # (no type hints: its objects are Any here)

from levante.engine.expressions import limits

Pattern: Any = regex.Pattern
Match: Any = regex.Match

IGNORECASE = regex.IGNORECASE
MULTILINE = regex.MULTILINE
DOTALL = regex.DOTALL


class RegexTimeout(limits.LimitExceeded):
    """A regular expression ran past the time bound of its expression."""


@lru_cache(maxsize=1024)
def _compile(pattern: str, flags: int) -> Any:
    # VERSION0: the semantics of Python's `re` (what YAQL and Jinja users expect).
    return regex.compile(pattern, flags | regex.VERSION0)


def compile_pattern(pattern: Any, flags: int = 0) -> Any:
    if isinstance(pattern, Pattern):
        return pattern
    return _compile(str(pattern), flags)


def _bounded(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        # concurrent: the engine releases the interpreter while it matches, so the rest
        # of the process runs on, even in the moments its timeout check lets pass.
        return call(*args, timeout=limits.remaining(), concurrent=True, **kwargs)
    except TimeoutError:
        raise RegexTimeout(
            "the regular expression ran out of time (the time bound of the expression)"
        ) from None


def search(pattern: Any, text: str) -> Any:
    return _bounded(compile_pattern(pattern).search, text)


def match(pattern: Any, text: str) -> Any:
    return _bounded(compile_pattern(pattern).match, text)


def fullmatch(pattern: Any, text: str) -> Any:
    return _bounded(compile_pattern(pattern).fullmatch, text)


def finditer(pattern: Any, text: str) -> list[Any]:
    compiled = compile_pattern(pattern)
    return _bounded(lambda timeout, concurrent: list(
        compiled.finditer(text, timeout=timeout, concurrent=concurrent)))


def findall(pattern: Any, text: str) -> list[Any]:
    return _bounded(compile_pattern(pattern).findall, text)


def split(pattern: Any, text: str, maxsplit: int = 0) -> list[str]:
    return _bounded(compile_pattern(pattern).split, text, maxsplit)


def sub(pattern: Any, repl: Any, text: str, count: int = 0) -> str:
    if isinstance(repl, str) and len(repl) > 1:
        found = len(text) + 1 if count <= 0 else min(count, len(text) + 1)
        limits.check_length(len(text) + found * len(repl), "the replace")
    return _bounded(compile_pattern(pattern).sub, repl, text, count)


def escape(text: str) -> str:
    return regex.escape(text)
