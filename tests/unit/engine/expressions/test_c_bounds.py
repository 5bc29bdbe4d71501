"""Operations that would run in C for ever without releasing the interpreter are refused
before they run, with an error naming the limit; regular expressions are bounded in time
(issue 9, point 2)."""

from __future__ import annotations

import threading
import time

import pytest

from levante.engine.expressions import ExpressionError, evaluate, limits

# Nine lines of anchors and aliases that stand for 9 ** 9 values.
LAUGHS = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n"
    for p, n in zip("abcdefgh", "bcdefghi", strict=True))


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("<% pow(9, pow(9, 9)) %>", "more than 14000 bits"),
        ("<% pow(2, 20000) %>", "more than 14000 bits"),
        ("<% pow(10, 4000) * pow(10, 4000) %>", "more than 14000 bits"),
        ("<% $.big * $.big %>", "more than 14000 bits"),  # the fast path falls back
        ("<% shiftBitsLeft(1, 10000000000) %>", "more than 14000 bits"),
        ("<% pow(3, pow(10, 5000), 7) %>", "more than 14000 bits"),
        ("<% ('a' * 1000000).replace('a', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa') %>",
         "more than 16777216 characters"),
        ("<% regex('').replace('a' * 100000, 'x' * 1000) %>", "more than 16777216"),
        ("{{ 9 ** 999 ** 999 }}", "more than 14000 bits"),
        ("{{ (10 ** 900) ** 900 }}", "more than 14000 bits"),
        ("{{ 10 ** 100000 }}", "too large"),
        ("{{ (10 ** 1000) * (10 ** 1000) * (10 ** 1000) * (10 ** 1000) * (10 ** 1000) }}",
         "more than 14000 bits"),
        ("{{ '%999999999d' % 1 }}", "limit of 1000000"),
        ("{{ '%.999999999f' % 1.5 }}", "limit of 1000000"),
        ("{{ '%*d' % (999999999, 1) }}", "limit of 1000000"),
        ("{{ '%(a)999999999s' % {'a': 1} }}", "limit of 1000000"),
        ("{{ '{:>999999999}'.format(1) }}", "limit of 1000000"),
        ("{{ '{:>{}}'.format(1, 999999999) }}", "limit of 1000000"),
        ("{{ '{x:>999999999}'.format_map({'x': 1}) }}", "limit of 1000000"),
        ("{{ '%999999999d' | format(1) }}", "limit of 1000000"),
        ("{{ 'a' | center(999999999) }}", "limit of 1000000"),
        ("{{ 'a'.center(999999999) }}", "limit of 1000000"),
        ("{{ 'a'.ljust(999999999) }}", "limit of 1000000"),
        ("{{ 'a'.zfill(999999999) }}", "limit of 1000000"),
        ("{{ 'a\tb'.expandtabs(999999999) }}", "more than 16777216"),
        ("{{ (1).to_bytes(999999999, 'big') }}", "limit of 1000000"),
        ("{{ 'x' | indent(999999999) }}", "more than 16777216"),
        ("{{ ('a' * 1000000) | replace('a', 'aaaaaaaaaaaaaaaaaaaaaaa') }}", "more than 16777216"),
        ("{{ ('a' * 1000000).replace('a', 'aaaaaaaaaaaaaaaaaaaaaaaa') }}", "more than 16777216"),
        ("<% ('a' * 1000000).replace({a => 'aaaaaaaaaaaaaaaaaaaaaaa'}) %>",
         "more than 16777216"),
        ("{{ ('a' * 1000000).translate({97: 'x' * 1000}) }}", "more than 16777216"),
        ("<% yaml_parse($.laughs) %>", "more than 1000000 values"),
        # One list held a million times: str(), formats and JSON would walk 10^12 values.
        ("{{ ([[1] * 1000000] * 1000000) | string }}", "more than 1000000 values"),
        ("x {{ [[1] * 1000000] * 1000000 }}", "more than 1000000 values"),
        ("{{ ([[1] * 1000000] * 1000000) ~ 'a' }}", "more than 1000000 values"),
        ("{{ ([[1] * 1000000] * 1000000) | json_dump }}", "more than 1000000 values"),
        ("{{ json_pp([[1] * 1000000] * 1000000) }}", "more than 1000000 values"),
        ("{{ ([[1] * 1000000] * 1000000) | tojson }}", "more than 1000000 values"),
        ("{{ ([[1] * 1000000] * 1000000) | pprint }}", "more than 1000000 values"),
        ("{{ ([[1] * 1000000] * 1000000) | join(',') }}", "more than 1000000 values"),
        ("{{ '%s' % ([[1] * 1000000] * 1000000,) }}", "more than 1000000 values"),
        ("{{ '{}'.format([[1] * 1000000] * 1000000) }}", "more than 1000000 values"),
        ("{{ ([[1] * 1000] * 100000) | sum(start=[]) }}", "copy the growing result"),
        ("<% str(let(a => range(1000000).toList()) -> [$a] * 900000) %>",
         "more than 1000000 values"),
        ("{{ _.laughs | yaml_parse }}", "more than 1000000 values"),
    ],
)
def test_refused_before_it_runs(expression: str, words: str) -> None:
    started = time.monotonic()
    with pytest.raises(ExpressionError) as info:
        evaluate(expression, {"big": 10 ** 4000, "laughs": LAUGHS}, timeout=30)
    assert words in str(info.value), str(info.value)
    assert expression in str(info.value)
    assert time.monotonic() - started < 10  # (a hang guard: it is refused, not computed)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("<% pow(2, 100) %>", 2 ** 100),
        ("<% pow(-1, pow(10, 1000)) %>", 1),  # |base| <= 1: any exponent is cheap
        ("<% pow(2, -2) %>", 0.25),
        ("<% pow(3, 1000, 7) %>", pow(3, 1000, 7)),
        ("<% pow(10, 1000) * pow(10, 1000) %>", 10 ** 2000),
        ("<% shiftBitsLeft(1, 100) %>", 2 ** 100),
        ("<% $.x * 3 %>", 21),
        ("<% 'ab'.replace('b', 'cd') %>", "acd"),
        ("{{ 2 ** 10 }}", 1024),
        ("{{ (10 ** 1000) * (10 ** 1000) }}", 10 ** 2000),
        ("{{ '%5d|%-3s|%.2f' % (1, 'a', 1.5) }}", "    1|a  |1.50"),
        ("{{ '%s%%' | format(5) }}", "5%"),
        ("{{ '{:>5}|{:{}}'.format(1, 'b', 3) }}", "    1|b  "),
        ("{{ 'a' | center(5) }}", "  a  "),
        ("{{ 'x\ny' | indent(2) }}", "x\n  y"),
        ("{{ 'banana' | replace('a', 'o') }}", "bonono"),
        ("{{ 10 % 3 }}", 1),
        ("<% 'abc ab abc'.replace({abc => xx, ab => yy}) %>", "xx yy xx"),
        ("{{ [[1, 2], [3]] | sum(start=[]) }}", [1, 2, 3]),
        ("{{ [1, 2, 3] | sum }}", 6),
        ("{{ [1, 2] | join(',') }}", "1,2"),
        ("a{{ [1, 2] }}b", "a[1, 2]b"),
        ("{{ [1] ~ 'x' }}", "[1]x"),
        ("{{ [1, 2] | string }}", "[1, 2]"),
        ("<% yaml_parse('a: &x [1, 2]\nb: *x') %>", {"a": [1, 2], "b": [1, 2]}),
    ],
)
def test_ordinary_values_still_work(expression: str, expected: object) -> None:
    assert evaluate(expression, {"x": 7}) == expected


def test_a_result_too_large_to_store_fails_the_expression() -> None:
    with pytest.raises(ExpressionError) as info:
        evaluate("<% $.big + 0 %>", {"big": 2 ** 15000})
    assert "more than 14000 bits" in str(info.value)


CATASTROPHIC = "a" * 5000 + "!"


@pytest.mark.parametrize(
    "expression",
    [
        "<% regex('(a+)+$').matches($.s) %>",
        "<% $.s.matches('(a|aa)+$') %>",
        "<% $.s =~ '(a+)+$' %>",
        "<% $.s !~ regex('(a+)+$') %>",
        "<% regex('(a+)+$').search($.s) %>",
        "<% regex('(a+)+$').searchAll($.s) %>",
        "<% regex('(a+)+$').replace($.s, 'x') %>",
        "<% $.s.replace(regex('(a+)+$'), 'x') %>",
        "<% $.s.split(regex('(a+)+$')) %>",
        "<% regex('(a+)+$').replaceBy($.s, 'x') %>",
        "{{ _.s is search('(a+)+$') }}",
        "{{ _.s | regex_search('(a+)+$') }}",
        "{{ _.s | regex_findall('(a+)+$') }}",
        "{{ _.s | regex_replace('(a+)+$', 'x') }}",
        "<% regex_match($.s, '(a|aa)+$') %>",  # StackStorm's functions
        "<% regex_substring($.s, '(a|aa)+$') %>",
    ],
)
def test_a_catastrophic_regex_fails_within_its_bound_and_lets_others_run(
    expression: str,
) -> None:
    ticks = 0
    done = threading.Event()

    def other() -> None:  # another thread of the process keeps running meanwhile
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.005)

    thread = threading.Thread(target=other)
    thread.start()
    try:
        started, before = time.monotonic(), ticks
        with pytest.raises(ExpressionError) as info:
            evaluate(expression, {"s": CATASTROPHIC}, timeout=0.5)
        during = ticks - before
        assert time.monotonic() - started < 30  # (a hang guard)
    finally:
        done.set()
        thread.join()
    text = str(info.value)
    assert "timed out" in text or "ran out of time" in text, text
    # A regex that held the interpreter would leave the other thread no turn at all; a
    # loaded machine still gives it several in half a second.
    assert during >= 2, during


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("<% regex('a.c').matches('xabc') %>", True),
        ("<% 'abc'.matches('^b') %>", False),
        ("<% 'abc' =~ 'b' %>", True),
        ("<% 'abc' !~ regex('b') %>", False),
        ("<% regex('a(b)').search('xab') %>", "ab"),
        ("<% regex('(?P<n>[0-9]+)').search('ab12', $n.value) %>", "12"),
        ("<% regex('(a)(b)').search('ab', $2.value + $3.value) %>", "ab"),
        ("<% regex('a.').searchAll('abacad') %>", ["ab", "ac", "ad"]),
        ("<% regex('[,;]').split('a,b;c') %>", ["a", "b", "c"]),
        ("<% 'a,b;c'.split(regex('[,;]'), 1) %>", ["a", "b;c"]),
        ("<% regex('a').replace('banana', 'o', 2) %>", "bonona"),
        ("<% 'banana'.replace(regex('a'), 'o') %>", "bonono"),
        ("<% regex('[0-9]').replaceBy('a1b2', str(int($1.value) * 2)) %>", "a2b4"),
        ("<% regex('ABC', ignoreCase => true).matches('xabc') %>", True),
        ("<% escapeRegex('a.b') %>", "a\\.b"),
        ("<% isRegex(regex('a')) %>", True),
        ("<% isRegex('a') %>", False),
        ("{{ 'abc' is match('a') }}", True),
        ("{{ 'abc' is match('b') }}", False),
        ("{{ 'abc' is search('b') }}", True),
        ("{{ 'ab12' | regex_search('[0-9]+') }}", True),  # StackStorm's: a boolean
        ("{{ 'ab12' | regex_findall('[0-9]') }}", ["1", "2"]),
        ("{{ 'ab12' | regex_replace('[0-9]', '#') }}", "ab##"),
    ],
)
def test_regex_functions(expression: str, expected: object) -> None:
    assert evaluate(expression, {}) == expected


def test_remaining_is_the_time_left_to_the_innermost_expression() -> None:
    assert limits.remaining() == limits.DEFAULT_TIMEOUT
    outer = limits.watchdog.start(10)
    try:
        assert 9 < limits.remaining() <= 10
        inner = limits.watchdog.start(1)
        try:
            assert limits.remaining() <= 1
        finally:
            limits.watchdog.stop(inner)
        assert 9 < limits.remaining() <= 10
    finally:
        limits.watchdog.stop(outer)
    assert limits.remaining() == limits.DEFAULT_TIMEOUT


def test_a_result_that_shares_a_list_many_times_fails_before_it_is_copied() -> None:
    started = time.monotonic()
    with pytest.raises(ExpressionError) as info:
        evaluate("{{ [[1] * 1000000] * 1000000 }}", {}, timeout=30)
    assert "more than 10000000 values" in str(info.value)
    assert time.monotonic() - started < 10  # (a hang guard: refused, not copied)


def test_a_list_that_holds_itself_is_no_endless_walk() -> None:
    looped: list[object] = []
    looped.append(looped)
    limits.check_expanded(looped, "x")
