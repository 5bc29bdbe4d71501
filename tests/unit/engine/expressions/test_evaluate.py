"""evaluate(): YAQL and Jinja, single expressions, interpolation, recursion, errors."""

from __future__ import annotations

from typing import Any

import pytest

from levante.engine.expressions import (
    ExpressionError,
    evaluate,
    evaluate_guard,
    has_expression,
    is_expression,
)

DATA: dict[str, Any] = {
    "x": 1,
    "s": "abc",
    "xs": [1, 2, 3],
    "d": {"a": 1, "b": {"c": [10, 20]}},
    "none": None,
    "t": True,
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # no expression: returned as is
        ("plain", "plain"),
        ("{not jinja}", "{not jinja}"),
        ("100% <ok>", "100% <ok>"),
        (5, 5),
        (None, None),
        (True, True),
        (1.5, 1.5),
        # YAQL single expressions give raw values
        ("<% $.x %>", 1),
        ("<%$.x%>", 1),
        ("<% $.s %>", "abc"),
        ("<% $.xs %>", [1, 2, 3]),
        ("<% $.d %>", {"a": 1, "b": {"c": [10, 20]}}),
        ("<% $.d.b.c %>", [10, 20]),
        ("<% $.d.b.c[1] %>", 20),
        ("<% $.none %>", None),
        ("<% $ %>", DATA),
        ("<% $.x + 1 %>", 2),
        ("<% $.x = 1 %>", True),
        ("<% $.x > 1 %>", False),
        ("<% $.xs.select($ * 2) %>", [2, 4, 6]),
        ("<% $.xs.where($ > 1) %>", [2, 3]),
        ("<% len($.xs) %>", 3),
        ("<% $.xs.len() %>", 3),
        ("<% $.d.keys() %>", ["a", "b"]),
        ("<% $.d.get(zz, 5) %>", 5),
        ("<% dict(a => 1) %>", {"a": 1}),
        ("<% [1, 2] %>", [1, 2]),
        ("<% {a => [1]} %>", {"a": [1]}),
        ("<% $.s.toUpper() %>", "ABC"),
        ("<% not $.t %>", False),
        ("<% $.none = null %>", True),
        ("<% range(0, 3) %>", [0, 1, 2]),
        ("<% $.xs.toSet() %>", [1, 2, 3]),
        ("<% $.xs = [1, 2, 3] %>", True),
        ("<% [3] in [$.xs, [3]] %>", True),
        ("<% $.d = {a => 1, b => {c => [10, 20]}} %>", True),
        ("<% [$.d, $.d].distinct().len() %>", 1),
        ("<% $.d.b.c.contains(20) %>", True),
        # YAQL interpolation gives strings (Python str() of values)
        ("x=<% $.x %>", "x=1"),
        ("<% $.x %> and <% $.s %>", "1 and abc"),
        ("list: <% $.xs %>", "list: [1, 2, 3]"),
        ("<% $.none %>!", "None!"),
        (" <% $.x %>", " 1"),
        # Jinja
        ("{{ _.x }}", 1),
        ("{{_.x}}", 1),
        ("{{ _.xs }}", [1, 2, 3]),
        ("{{ _.d.b.c[0] }}", 10),
        ("{{ _.x + 1 }}", 2),
        ("{{ _.xs | length }}", 3),
        ("{{ _.s | upper }}", "ABC"),
        ("{{ _.none }}", None),
        ("{{ {'a': {'b': 1}} }}", {"a": {"b": 1}}),
        ("x={{ _.x }}", "x=1"),
        ("{{ _.x }} and {{ _.s }}", "1 and abc"),
        ("{% for i in _.xs %}{{ i }},{% endfor %}", "1,2,3,"),
        ("{% if _.t %}yes{% else %}no{% endif %}", "yes"),
        ("{{ _.x }}{{ _.x }}", "11"),
    ],
)
def test_values(value: Any, expected: Any) -> None:
    assert evaluate(value, DATA) == expected


def test_recursion_into_dicts_and_lists() -> None:
    value = {
        "a": "<% $.x %>",
        "b": ["{{ _.s }}", {"c": "n=<% $.x %>"}, 3],
        "<% $.x %>": "keys are not evaluated",
        "t": ("<% $.x %>",),
    }
    assert evaluate(value, DATA) == {
        "a": 1,
        "b": ["abc", {"c": "n=1"}, 3],
        "<% $.x %>": "keys are not evaluated",
        "t": [1],
    }


def test_results_are_copies() -> None:
    data = {"d": {"a": [1]}}
    result = evaluate("<% $.d %>", data)
    result["a"].append(2)
    assert data == {"d": {"a": [1]}}
    literal = {"k": ["v"]}
    out = evaluate(literal, data)
    assert out == literal and out is not literal and out["k"] is not literal["k"]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("<% $.nope %>", "nope"),
        ("<% $.x.y %>", "Unknown function"),
        ("<% 1 / 0 %>", "ZeroDivisionError"),
        ("<% $.x + %>", "Parse error"),
        ("<% unknown_fn() %>", "Unknown function"),
        ("a <% $.nope %> b", "nope"),
        ("{{ _.nope }}", "has no attribute 'nope'"),
        ("{{ nope }}", "'nope' is undefined"),
        ("x {{ _.nope }}", "has no attribute 'nope'"),
        ("{{ _.x + }}", "unexpected"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{% for %}", "Expected"),
        ("<% $.x %> {{ _.x }}", "mixing YAQL and Jinja"),
    ],
)
def test_errors_name_expression_and_error(value: str, words: str) -> None:
    with pytest.raises(ExpressionError) as info:
        evaluate(value, DATA)
    text = str(info.value)
    assert words in text
    assert info.value.expression in text
    assert info.value.expression in value or value in info.value.expression
    assert "Can not evaluate" in text


def test_error_names_the_failing_part_only() -> None:
    with pytest.raises(ExpressionError) as info:
        evaluate("ok <% $.x %> bad <% $.nope %>", DATA)
    assert info.value.expression == "<% $.nope %>"
    assert info.value.language == "YAQL"
    assert "abc" not in str(info.value)  # the data is never in the message


def test_error_inside_nested_value() -> None:
    with pytest.raises(ExpressionError) as info:
        evaluate({"a": [{"b": "{{ _.missing }}"}]}, DATA)
    assert info.value.language == "Jinja"


@pytest.mark.parametrize(
    ("guard", "expected"),
    [
        (None, True),
        ("", True),
        ("<% $.t %>", True),
        ("<% not $.t %>", False),
        ("<% $.x = 1 %>", True),
        ("<% $.none %>", False),
        ("<% $.xs %>", True),
        ("<% [] %>", False),
        ("{{ _.x > 0 }}", True),
        ("{{ _.x > 5 }}", False),
        (True, True),
        (False, False),
    ],
)
def test_guards(guard: Any, expected: bool) -> None:
    assert evaluate_guard(guard, DATA) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", False),
        ("<% $.x %>", True),
        ("a {{ b }}", True),
        ("{% if x %}y{% endif %}", True),
        ("<% not closed", False),
        ("{ not jinja }", False),
        ({"a": ["x", {"b": "<% 1 %>"}]}, True),
        ({"a": ["x", {"b": "y"}]}, False),
        (["{{ 1 }}"], True),
        (3, False),
        (None, False),
    ],
)
def test_has_expression(value: Any, expected: bool) -> None:
    assert has_expression(value) is expected


def test_is_expression_counts_malformed_ones() -> None:
    assert is_expression("<% $.x + %>")
    assert not is_expression("text")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{{ _ }}", {"a": {"b": 1}, "items": [1], "n": None}),
        ("{{ _.a }}", {"b": 1}),
        ("{{ _.a.b }}", 1),
        ("{{ _.n }}", None),
        ("{{  _.a.b  }}", 1),
    ],
)
def test_jinja_paths(value: str, expected: Any) -> None:
    assert evaluate(value, {"a": {"b": 1}, "items": [1], "n": None}) == expected


def test_jinja_path_defers_to_jinja() -> None:
    data = {"a": {"b": 1}, "items": [1]}
    with pytest.raises(ExpressionError, match="JSON"):  # Jinja: the dict method, not JSON
        evaluate("{{ _.items }}", data)
    assert evaluate("{{ _['items'] }}", data) == [1]
    with pytest.raises(ExpressionError) as info:
        evaluate("{{ _.a.nope }}", data)
    assert "has no attribute 'nope'" in str(info.value)
    with pytest.raises(ExpressionError):
        evaluate("{{ _.a.b.c }}", data)
