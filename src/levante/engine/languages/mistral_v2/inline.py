"""The inline forms: `std.echo output="x" n=<% $.n %>`, `fail(msg="x")`, `count=3 delay=1`.

Values are quoted strings (quotes removed), `<% %>` / `{{ }}` expressions (kept as text),
JSON/YAML flow collections (`[1, 2]`, `{a: 1}`), or bare words (numbers, true/false/null
decoded as JSON, anything else kept as a string).
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

_CMD = re.compile(r"\s*([\w.:-]+)")
_KEY = re.compile(r"\s*([\w-]+)\s*=\s*")
_FUNC = re.compile(r"\s*([\w.:-]+)\((.*)\)\s*$", re.S)


class InlineError(ValueError):
    """The inline text cannot be read; the message says where."""


def parse_command(text: str) -> tuple[str, dict[str, Any]]:
    """Split `name k=v ...` (or `name(k=v, ...)`) into the name and its parameters."""
    func = _FUNC.match(text)
    if func:
        return func.group(1), parse_params(func.group(2), commas=True)
    m = _CMD.match(text)
    if not m:
        raise InlineError(f"cannot read a name at the start of '{text}'")
    rest = text[m.end() :]
    if rest and not rest[0].isspace():
        raise InlineError(f"unexpected '{rest[0]}' after '{m.group(1)}' in '{text}'")
    return m.group(1), parse_params(rest)


def parse_params(text: str, commas: bool = False) -> dict[str, Any]:
    """Read `k=v k2=v2` (or comma separated when `commas`)."""
    params: dict[str, Any] = {}
    pos = 0
    n = len(text)
    while True:
        while pos < n and (text[pos].isspace() or (commas and text[pos] == ",")):
            pos += 1
        if pos >= n:
            return params
        m = _KEY.match(text, pos)
        if not m:
            raise InlineError(f"expected name=value at '{text[pos:pos + 30]}'")
        key = m.group(1)
        value, pos = _read_value(text, m.end(), commas)
        params[key] = value


def _read_value(text: str, pos: int, commas: bool) -> tuple[Any, int]:
    n = len(text)
    if pos >= n:
        raise InlineError(f"missing value after '{text[:pos].strip()}'")
    ch = text[pos]
    if ch in "\"'":
        end = text.find(ch, pos + 1)
        if end < 0:
            raise InlineError(f"unterminated quote in '{text[pos:pos + 30]}'")
        return text[pos + 1 : end], end + 1
    for opener, closer in (("<%", "%>"), ("{{", "}}")):
        if text.startswith(opener, pos):
            end = text.find(closer, pos + 2)
            if end < 0:
                raise InlineError(f"unterminated expression '{text[pos:pos + 30]}'")
            return text[pos : end + 2], end + 2
    if ch in "[{":
        end = _balanced_end(text, pos)
        chunk = text[pos:end]
        try:
            return yaml.safe_load(chunk), end
        except yaml.YAMLError:
            raise InlineError(f"invalid value '{chunk}'") from None
    end = pos
    while end < n and not text[end].isspace() and not (commas and text[end] == ","):
        end += 1
    word = text[pos:end]
    try:
        return json.loads(word), end
    except ValueError:
        return word, end


def _balanced_end(text: str, pos: int) -> int:
    depth = 0
    quote = ""
    i = pos
    while i < len(text):
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise InlineError(f"unbalanced brackets in '{text[pos:pos + 30]}'")
