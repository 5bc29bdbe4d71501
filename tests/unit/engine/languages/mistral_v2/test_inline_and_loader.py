"""The inline `name k=v` syntax and the line-keeping YAML loader."""

from __future__ import annotations

from typing import Any

import pytest

from levante.engine.languages.mistral_v2 import ValidationError
from levante.engine.languages.mistral_v2.inline import InlineError, parse_command, parse_params
from levante.engine.languages.mistral_v2.loader import load


@pytest.mark.parametrize(
    ("text", "name", "params"),
    [
        ("std.noop", "std.noop", {}),
        ("  std.noop  ", "std.noop", {}),
        ("std.echo output=x", "std.echo", {"output": "x"}),
        ("std.echo output='a b'", "std.echo", {"output": "a b"}),
        ('std.echo output="a=b c"', "std.echo", {"output": "a=b c"}),
        ("std.echo output=<% $.x + 1 %>", "std.echo", {"output": "<% $.x + 1 %>"}),
        ("std.echo output={{ _.x }} n=1", "std.echo", {"output": "{{ _.x }}", "n": 1}),
        ("std.echo n=1.5 b=false z=null", "std.echo", {"n": 1.5, "b": False, "z": None}),
        ("std.echo l=[1, 'a b', [2]]", "std.echo", {"l": [1, "a b", [2]]}),
        ("std.echo d={a: 1, b: [x, y]}", "std.echo", {"d": {"a": 1, "b": ["x", "y"]}}),
        ("std.http url=http://h/p?a=b&c=d", "std.http", {"url": "http://h/p?a=b&c=d"}),
        ("fail(msg='x, y')", "fail", {"msg": "x, y"}),
        ("fail(msg=<% $.m %>, code=2)", "fail", {"msg": "<% $.m %>", "code": 2}),
        ("core.local cmd='uptime'", "core.local", {"cmd": "uptime"}),
        ("my-wb.my_action", "my-wb.my_action", {}),
    ],
)
def test_parse_command(text: str, name: str, params: dict[str, Any]) -> None:
    assert parse_command(text) == (name, params)


@pytest.mark.parametrize(
    "text",
    ["", "=x", "std.echo junk", "std.echo a=", "std.echo a='x", "std.echo a=<% $.x",
     "std.echo a=[1, 2", "std.echo a=[1, 2}}]", 'x"y'],
)
def test_parse_command_errors(text: str) -> None:
    with pytest.raises(InlineError):
        parse_command(text)


def test_parse_params_with_dashes() -> None:
    assert parse_params("count=3 delay=1 break-on=<% $.x %> continue-on=<% $.y %>") == {
        "count": 3, "delay": 1, "break-on": "<% $.x %>", "continue-on": "<% $.y %>"}


def test_loader_lines() -> None:
    doc = load("a: 1\nb:\n  c: 2\n  d:\n    - e: 3\n")
    assert doc.data == {"a": 1, "b": {"c": 2, "d": [{"e": 3}]}}
    assert doc.line(doc.data, "a") == 1
    assert doc.line(doc.data, "b") == 2
    assert doc.line(doc.data["b"]) == 3
    assert doc.line(doc.data["b"], "d") == 4
    assert doc.line(doc.data["b"]["d"][0], "e") == 5
    assert doc.line(doc.data, "missing") == 1
    assert doc.line({}) is None


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("a: [1\n", 2, "malformed YAML"),
        ("a: 1\n  b: 2\n", 2, "malformed YAML"),
        ("a: 1\na: 2\n", 2, "duplicate key 'a'"),
        ("? [1]\n: 2\n", 1, "scalar"),
        ("a: *nothing\n", 1, "malformed YAML"),
        (b"\xff\xfe", None, "UTF-8"),
    ],
)
def test_loader_errors(text: str | bytes, line: int | None, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        load(text)
    assert words in info.value.message
    assert info.value.line == line


def test_loader_merge_keys_and_scalars() -> None:
    doc = load("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\nwhen: 2024-05-01\n")
    assert doc.data["other"] == {"x": 1, "y": 2}
    assert doc.data["when"] == "2024-05-01"


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(ValidationError) as info:
        load("\n".join(lines) + "\n")
    assert "too large" in info.value.message


@pytest.mark.parametrize(("text", "words"), [("a: &a {b: *a}\n", "recursive"),
                                             ("a: &a [*a]\n", "recursive")])
def test_recursive_alias_is_refused(text: str, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        load(text)
    assert words in info.value.message


def test_shared_aliases_within_bounds_are_fine() -> None:
    doc = load("d: &d {x: 1}\nl: [*d, *d, *d]\n")
    assert doc.data["l"] == [{"x": 1}] * 3
