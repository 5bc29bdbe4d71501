"""The YAQL fast path gives exactly what the YAQL engine gives, or defers to it."""

from __future__ import annotations

from typing import Any

import pytest

from levante.engine.expressions.context import DataContext
from levante.engine.expressions.yaql_fast import compile_fast
from levante.engine.expressions.yaql_lang import YaqlExpression, parse

DATA: dict[str, Any] = {
    "i": 3, "j": 0, "f": 1.5, "s": "abc", "e": "", "t": True, "n": None,
    "xs": [1, 2, 3], "empty": [], "d": {"k": "v", "inner": {"z": [10, 20]}}, "dz": {},
    "fs": [1.5, 2], "nested": [[1, 2], [3]],
    "objs": [{"name": "a", "state": "ERROR", "n": 1}, {"name": "b", "state": "OK", "n": 2}],
}


class Ctx(DataContext):
    def task(self, name: str | None) -> dict[str, Any] | None:
        if name == "gone":
            return None
        return {"name": name or "cur", "result": {"x": 1, "l": [1, 2]}, "state": "SUCCESS"}

    def global_var(self, name: str) -> Any:
        return {"g": 5}.get(name)


EXPRESSIONS = [
    "$", "$.i", "$.d.k", "$.d.inner.z", "$.d.inner.z[0]", "$.d.inner.z[-1]", "$.xs[5]",
    "$.d['k']", "$.d['nope']", "$.nope", "$.i.nope", "$.n.x", "$.xs.len()", "len($.s)",
    "len($.i)", "len($.d)", "$.s.len()",
    "1", "-1", "+2", "-$.f", "-$.s", "1.5", "'str'", "true", "false", "null",
    "$.i = 3", "$.i = '3'", "$.i != 3", "$.n = null", "$.t = 1", "$.xs = [1, 2, 3]",
    "$.d = $.d", "$.i > 2", "$.i >= 3", "$.i < 2.5", "$.i <= 1", "$.s > 'abb'",
    "$.i > '1'", "$.n < 1", "1 < $.n", "$.t > 0", "$.xs > [1]",
    "$.i + 1", "$.i - 1", "$.i * 2", "$.i / 2", "$.f / 2", "$.i / 0", "$.i mod 2",
    "$.i mod 0", "$.s + 'd'", "$.s + 1", "$.xs + [4]", "$.t + 1", "$.f * $.i",
    "$.i and $.s", "$.j and $.s", "$.j or $.e", "$.e or $.xs", "not $.i", "not $.empty",
    "not $.n", "$.i > 1 and $.s = 'abc'", "$.i > 5 or not $.t", "($.i + 1) * 2",
    "$.i > 1 and ($.j = 0 or $.nope)", "$.j = 1 and $.nope",
    "task().name", "task(t1).result", "task('t1').result.l[1]", "task(gone)",
    "task(gone).result", "env()", "execution()", "global(g)", "global('g') + 1",
    "$.xs.select($ * 2)", "$.xs.where($ > 1).len()", "dict(a => 1)", "[1, $.i]",
    "$.xs.select($ * $)", "$.xs.where($ > 1)", "$.xs.where($ > 1).select($ + 1)",
    "$.objs.select($.name)", "$.objs.where($.state = 'ERROR').select($.name)",
    "$.objs.select($.nope)", "$.objs.where($.n > 1)", "$.xs.first()", "$.empty.first()",
    "$.xs.sum()", "$.empty.sum()", "$.fs.sum()", "$.objs.sum()", "$.xs.contains(2)",
    "$.xs.contains(9)", "$.xs.contains('2')", "$.objs.contains(1)", "$.d.keys()",
    "$.d.values()", "$.xs.keys()", "$.d.select($)", "$.s.select($)", "$.i.select($)",
    "$.xs.select($.x)", "$.objs.select([$.name])", "$.xs.select($, 1)",
    "task(t1).result.l.select($ * 10)", "$.xs.where($ = $.i)", "$.d.inner.z.first()",
    "$.xs.select($).len()", "$.nested.select($.select($ + 1))",
    "{a => $.i}", "$.i in $.xs", "let(x => 1) -> $x", "$.s.toUpper()",
]


def outcome(func: Any) -> tuple[str, Any]:
    try:
        return ("ok", func())
    except Exception as e:
        return ("error", type(e).__name__)


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_fast_path_matches_engine(text: str) -> None:
    expr = YaqlExpression(text)
    ctx = Ctx(DATA)
    fast = outcome(lambda: expr.evaluate(DATA, ctx))
    slow = outcome(lambda: expr.evaluate_with_engine(DATA, ctx))
    assert fast == slow


@pytest.mark.parametrize(
    ("text", "fast"),
    [
        ("$.a.b", True), ("$.a = 1 and not $.b", True), ("task(t).result.x[0]", True),
        ("len($.a)", True), ("$.a.len()", True), ("-$.a + 2 * 3", True),
        ("$.a.select($)", True), ("$.a.where($.b = 1).select($.c)", True), ("$x", False),
        ("$.a.select($x)", False), ("$.a.orderBy($)", False), ("$.a.select(x => 1)", False),
        ("[1]", False), ("{a => 1}", False),
        ("tasks()", False), ("$.a in [1]", False), ("foo(1)", False), ("task(a, b)", False),
        ("abc", False),
    ],
)
def test_which_expressions_compile(text: str, fast: bool) -> None:
    assert (compile_fast(parse(text)) is not None) is fast
