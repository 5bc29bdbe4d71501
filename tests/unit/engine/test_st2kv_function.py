"""`st2kv()` in YAQL and Jinja: arguments as StackStorm's, the key split into scope and
name, and an evaluation without a workflow execution saying so."""

from __future__ import annotations

from typing import Any

import pytest

from levante.engine.datastore_client import split_key
from levante.engine.expressions import DataContext, ExpressionError, evaluate


class _Ctx(DataContext):
    def __init__(self) -> None:
        super().__init__({})
        self.calls: list[tuple[Any, ...]] = []

    def st2kv(self, key: Any, decrypt: bool = False, default: Any = None) -> Any:
        self.calls.append((key, decrypt, default))
        return f"v:{key}"


def test_calls_in_both_languages() -> None:
    ctx = _Ctx()
    assert evaluate("<% st2kv('system.x') %>", {}, ctx) == "v:system.x"
    evaluate("<% st2kv('system.x', decrypt => true) %>", {}, ctx)
    evaluate("{{ st2kv('system.y', decrypt=true) }}", {}, ctx)
    evaluate("<% st2kv('k', default => 'd') %>", {}, ctx)
    assert ctx.calls[1:] == [("system.x", True, None), ("system.y", True, None),
                             ("k", False, "d")]
    with pytest.raises(ExpressionError, match="'decrypt' must be true or false"):
        evaluate("{{ st2kv('system.x', decrypt='yes') }}", {}, ctx)


def test_outside_a_workflow_execution() -> None:
    with pytest.raises(ExpressionError, match="workflow executions only"):
        evaluate("<% st2kv('system.x') %>", {}, DataContext({}))


def test_split_key() -> None:
    assert split_key("system.a.b") == ("system", "a.b")
    assert split_key("user.t") == ("user", "t")
    assert split_key("t") == ("user", "t")
