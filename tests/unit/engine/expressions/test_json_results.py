"""Expression results are JSON: dates as ISO strings, durations as seconds, and anything
else fails the expression by name instead of reaching the database."""

from __future__ import annotations

import json

import pytest

from levante.engine.expressions.errors import ExpressionError
from levante.engine.expressions.evaluator import evaluate


@pytest.mark.parametrize(("expression", "expected"), [
    ("<% datetime(2024, 5, 17, 10, 30) %>", "2024-05-17T10:30:00+00:00"),
    ("<% timespan(minutes => 2) %>", 120.0),
    ("<% {a => timespan(milliseconds => 1500)} %>", {"a": 1.5}),
    ("<% [datetime(2024, 1, 2)] %>", ["2024-01-02T00:00:00+00:00"]),
    ("{{ _.day }}", "2024-05-17"),
])
def test_dates_and_durations_become_json(expression: str, expected: object) -> None:
    import datetime

    value = evaluate(expression, {"day": datetime.date(2024, 5, 17)})
    assert value == expected
    json.dumps(value, allow_nan=False)


def test_now_is_an_iso_string() -> None:
    value = evaluate("<% now() %>", {})
    assert isinstance(value, str) and value[4] == "-" and "T" in value


@pytest.mark.parametrize("expression", [
    "{{ _.items }}", "{{ _.get }}", "<% float('inf') %>", "{{ _.keys }}",
])
def test_other_values_fail_naming_the_expression(expression: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate(expression, {"a": 1})
    assert expression in str(caught.value)
    assert "JSON" in str(caught.value)
