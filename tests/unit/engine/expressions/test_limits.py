"""Expressions cannot run forever, build huge values or reach the process."""

from __future__ import annotations

import threading
import time

import pytest

from levante.config import ConfigError, load_config
from levante.engine.expressions import (
    ExpressionError,
    evaluate,
    limits,
)
from levante.engine.settings import EngineSettings


@pytest.mark.parametrize(
    "expression",
    [
        "<% range(0, 100000000).select($ * 2).sum() %>",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    ],
)
def test_time_bound(expression: str) -> None:
    start = time.monotonic()
    with pytest.raises(ExpressionError) as info:
        evaluate(expression, {}, timeout=0.2)
    assert "timed out after 0.2 s" in str(info.value)
    assert time.monotonic() - start < 2
    # The thread is usable afterwards: no exception lands later.
    time.sleep(0.1)
    assert evaluate("<% 1 + 1 %>", {}) == 2


def test_timeout_in_another_thread_only_hits_that_thread() -> None:
    errors: list[str] = []

    def slow() -> None:
        try:
            evaluate("<% range(0, 100000000).sum() %>", {}, timeout=0.2)
        except ExpressionError as e:
            errors.append(str(e))

    t = threading.Thread(target=slow)
    t.start()
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        assert evaluate("<% 2 * 3 %>", {}) == 6
    t.join(5)
    assert errors and "timed out" in errors[0]


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("<% 'a' * 100000000 %>", "memory"),
        ("{{ 'a' * 100000000 }}", "too large"),
        ("{{ [1] * 100000000 }}", "too large"),
        ("{{ 10 ** 100000 }}", "too large"),
        ("{{ range(10000000) | list }}", "Range too big"),
        ("{{ ''.__class__.__mro__ }}", "unsafe"),
        ("{{ _.xs.append(1) }}", "unsafe"),
        ("{{ _.d.update({'a': 2}) }}", "unsafe"),
        ("{{ cycler.__init__.__globals__ }}", "unsafe"),
        ("<% $.xs.__class__ %>", "Lexical error"),
    ],
)
def test_size_and_access_bounds(expression: str, words: str) -> None:
    data = {"xs": [], "d": {"a": 1}}
    with pytest.raises(ExpressionError) as info:
        evaluate(expression, data)
    assert words in str(info.value)
    assert data == {"xs": [], "d": {"a": 1}}


def test_default_timeout_is_configurable() -> None:
    config = load_config(environ={}).with_overrides({("engine", "expression_timeout"): 0.15})
    timeout = EngineSettings.from_config(config).expression_timeout
    with pytest.raises(ExpressionError) as info:
        evaluate("<% range(0, 100000000).sum() %>", {}, timeout=timeout)
    assert "0.15 s" in str(info.value)
    with pytest.raises((ValueError, ConfigError)):
        EngineSettings.from_config(
            load_config(environ={}).with_overrides({("engine", "expression_timeout"): 0}))


def test_yaql_does_not_mutate_data() -> None:
    data = {"xs": [0], "d": {"a": 1}}
    assert evaluate("<% $.xs.append(1) %>", data) == [0, 1]
    assert evaluate("<% $.d.set(b => 2) %>", data) == {"a": 1, "b": 2}
    assert data == {"xs": [0], "d": {"a": 1}}


@pytest.mark.parametrize(
    "expression",
    ["<% $.big.select($ * 2) %>", "<% $.big.where($ > -1) %>", "<% $.big.toList() %>"],
)
def test_yaql_collection_limit(expression: str) -> None:
    """The engine's own limit (no patched engine: a collection one past it, about 0.6 s
    alone; a generous time limit so that a loaded machine meets the size limit first)."""
    assert evaluate(expression, {"big": list(range(1000))})
    with pytest.raises(ExpressionError) as info:
        evaluate(expression, {"big": list(range(limits.MAX_ITERATORS + 1))}, timeout=60)
    assert f"exceeds {limits.MAX_ITERATORS} elements" in str(info.value)


def test_the_watchdog_raises_again_when_the_first_exception_was_swallowed() -> None:
    """C code may swallow an exception that lands inside it (a dict lookup calling a
    Python __eq__, say); a thread that runs on past its deadline gets another one."""
    from levante.engine.expressions import limits

    caught: list[str] = []
    token = limits.watchdog.start(0.05)
    try:
        try:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # the first one is "swallowed" here
                pass
        except limits.ExpressionTimeout:
            caught.append("first")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # and the thread runs on
            pass
    except limits.ExpressionTimeout:
        caught.append("again")
    finally:
        limits.watchdog.stop(token)
    assert caught == ["first", "again"]
