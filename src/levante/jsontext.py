"""JSON from clients, checked once where it is decoded: no NUL characters, no lone UTF-16
surrogates (neither can be stored as text everywhere, and a lone surrogate cannot even be
encoded as UTF-8 in an answer), and no nesting deeper than a sane limit (so that nothing
recursive later meets a RecursionError). Each refusal names the JSON path of the field.

The checks are iterative: a value of any depth is walked without recursion.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 100
"""Deepest nesting of arrays and objects accepted in a request (the body itself is level 1)."""

MAX_BODY = 4 * 1024 * 1024
"""Largest request body a client may send to either API, in bytes (answered 413)."""

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class BadJson(ValueError):
    """A JSON value that cannot be accepted; ``path`` names the field ("" for the whole)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        where = f"field '{path}'" if path else "the value"
        super().__init__(f"{where} {reason}")


def text_problem(text: str) -> str | None:
    """Why a string cannot be stored (a NUL character, a lone surrogate), or None."""
    found = _BAD_TEXT.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "holds a NUL character"
    return f"holds a lone surrogate (U+{ord(found.group()):04X}), which is not valid Unicode"


def join(path: str, key: Any) -> str:
    """``path`` extended by an object key (``a.b``) or an array index (``a[0]``)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    name = str(key)
    if not _IDENT.match(name):
        # ASCII escapes: the name may itself be the bad text being reported.
        name = json.dumps(name)
    return f"{path}.{name}" if path else name


def check(value: Any, path: str = "", max_depth: int = MAX_DEPTH, text: bool = True) -> None:
    """Raise BadJson for the first bad string (unless not ``text``) or too-deep container
    in ``value``."""
    stack: list[tuple[Any, str, int]] = [(value, path, 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item) if text else None
            if problem:
                raise BadJson(where, problem)
            continue
        if isinstance(item, dict):
            pairs: list[tuple[Any, Any]] = list(item.items())
        elif isinstance(item, list | tuple):
            pairs = list(enumerate(item))
        else:
            continue
        if depth > max_depth:
            raise BadJson(where, f"is nested more than {max_depth} levels deep")
        for key, inner in reversed(pairs):
            if text and isinstance(key, str):
                problem = text_problem(key)
                if problem:
                    raise BadJson(join(where, key), f"has a name that {problem}")
            stack.append((inner, join(where, key), depth + 1))


def loads(raw: str | bytes, path: str = "", max_depth: int = MAX_DEPTH,
          text: bool = True) -> Any:
    """Decode JSON and check it (BadJson); ValueError for text that is not JSON.

    The decoder itself recurses: input deep enough to exhaust the interpreter's stack is
    refused as too deep (json.loads raises RecursionError before returning anything).
    """
    try:
        value = json.loads(raw)
    except RecursionError:
        raise BadJson(path, f"is nested more than {max_depth} levels deep") from None
    check(value, path, max_depth, text)
    return value


def safe_dumps(data: Any, **kwargs: Any) -> bytes:
    """UTF-8 JSON that never fails on text stored before these checks: a lone surrogate
    is written as its ``\\uXXXX`` escape (ensure_ascii) instead of breaking the answer."""
    kwargs.setdefault("separators", (",", ":"))
    try:
        return json.dumps(data, ensure_ascii=False, **kwargs).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(data, ensure_ascii=True, **kwargs).encode("ascii")
