"""Random strings: evaluation and syntax checks fail only with ExpressionError."""

from __future__ import annotations

import contextlib
import random

from levante.engine.expressions import ExpressionError, check_syntax, evaluate

TOKENS = [
    "<%", "%>", "{{", "}}", "{%", "%}", "$", ".", "x", "_", "(", ")", "[", "]", "{", "}", "'",
    '"', " ", "1", "+", "-", "*", "/", "=", "!=", "and", "or", "not", "task", "env", "range",
    "len", "=>", "->", "select", "$x", ",", ":", "|", "for", "in", "endfor", "if", "endif",
    "\\", "\n", "json_parse", "yaml_parse", "uuid", "global", "tasks", "let",
]


def test_random_expressions() -> None:
    rng = random.Random(7)
    data = {"x": [1, 2], "a": {"b": 1}}
    outcomes = {"value": 0, "error": 0}
    for _ in range(1500):
        text = "".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 12)))
        try:
            evaluate(text, data, timeout=0.5)
            outcomes["value"] += 1
        except ExpressionError as e:
            assert str(e)
            outcomes["error"] += 1
        with contextlib.suppress(ExpressionError):
            check_syntax(text)
    assert outcomes["value"] and outcomes["error"]
