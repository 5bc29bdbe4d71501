"""StackStorm's expression functions against StackStorm's documented results (its
"Jinja" reference page and the behaviour of its 2.10 filters), called directly, as Jinja
filters and functions and as YAQL functions of the engine, and in the platform's Jinja."""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from levante import st2_functions
from levante.engine.expressions import ExpressionError, evaluate
from levante.platform.core import jinja_render
from levante.st2_functions import bounds, data, jsonpath, misc, regex, version
from levante.st2_functions import time as st2_time

F = st2_functions.JINJA_FILTERS

DOCUMENTED = [
    "from_json_string", "from_yaml_string", "to_json_string", "to_yaml_string",
    "to_complex", "json_escape", "jsonpath_query", "regex_match", "regex_replace",
    "regex_search", "regex_substring", "to_human_time_from_seconds", "use_none",
    "version_compare", "version_more_than", "version_less_than", "version_equal",
    "version_match", "version_bump_major", "version_bump_minor", "version_bump_patch",
    "version_strip_patch",
]


def test_every_documented_function_is_a_filter_and_a_workflow_function() -> None:
    assert sorted(F) == sorted(DOCUMENTED)
    assert sorted(st2_functions.YAQL_FUNCTIONS) == sorted(DOCUMENTED)


# --- data ------------------------------------------------------------------------------

def test_json_strings_both_ways() -> None:
    # the docs' example: a structure stored as a JSON string, read back
    value = {"complex": "structure", "foo": ["x", True]}
    text = data.to_json_string(value)
    assert text == ('{\n    "complex":"structure",\n    "foo":[\n        "x",\n'
                    '        true\n    ]\n}')
    assert data.from_json_string(text) == value
    assert data.from_json_string('{"complex": "structure", "foo": ["x", true]}') == value
    assert data.to_json_string([1, 2], indent=None) == "[1,2]"
    assert data.to_json_string({"b": 1, "a": 2}, None, True, (", ", ": ")) \
        == '{"a": 2, "b": 1}'
    with pytest.raises(ValueError):
        data.from_json_string("{not json")
    with pytest.raises(TypeError, match="not JSON serializable"):
        data.to_json_string({1, 2})


def test_yaml_strings_both_ways() -> None:
    assert data.from_yaml_string("a: 1\nb: [x, true]\n") == {"a": 1, "b": ["x", True]}
    assert data.to_yaml_string({"a": {"b": [1, "é"]}}) == "a:\n    b:\n    - 1\n    - é\n"
    assert yaml.safe_load(data.to_yaml_string({"k": [1, 2]})) == {"k": [1, 2]}
    with pytest.raises(yaml.YAMLError):
        data.from_yaml_string("a: [1")
    with pytest.raises(yaml.YAMLError):  # safe: no Python objects
        data.from_yaml_string("!!python/object/apply:os.system ['true']")


def test_to_complex_and_json_escape() -> None:
    assert data.to_complex({"a": [1, None]}) == '{"a": [1, null]}'
    assert data.to_complex("x") == '"x"'
    assert data.json_escape('say "hi"\n\tnow\\') == 'say \\"hi\\"\\n\\tnow\\\\'
    assert data.json_escape(5) == "5"


# --- jsonpath --------------------------------------------------------------------------

ANIMALS = {"animals": ["bird", "rabbit", "cat", "dog", "sheep"]}
PEOPLE = {"people": [{"first": "James", "last": "d"}, {"first": "Jacob", "last": "e"},
                     {"first": "Jayden", "last": "f"}]}


@pytest.mark.parametrize(("value", "query", "expected"), [
    ({"a": {"b": {"c": 1234}}}, "a.b.c", [1234]),
    ({"animals": ["bird", "rabbit", "cat", "dog", "cow"]}, "animals[1]", ["rabbit"]),
    (ANIMALS, "animals[*]", ["bird", "rabbit", "cat", "dog", "sheep"]),
    (ANIMALS, "animals[1:3]", ["rabbit", "cat"]),
    (ANIMALS, "animals[:2]", ["bird", "rabbit"]),
    (ANIMALS, "animals[2:]", ["cat", "dog", "sheep"]),
    (PEOPLE, "people[*].first", ["James", "Jacob", "Jayden"]),
    (PEOPLE, "$..last", ["d", "e", "f"]),
    (PEOPLE, "nothing.here", None),  # no result: None, not an empty list
])
def test_jsonpath_query_as_documented(value: Any, query: str, expected: Any) -> None:
    assert jsonpath.jsonpath_query(value, query) == expected


def test_jsonpath_query_syntax_error() -> None:
    with pytest.raises(Exception, match="Parse error"):
        jsonpath.jsonpath_query({}, "a[")


# --- regex -----------------------------------------------------------------------------

def test_regex_functions_as_documented() -> None:
    assert regex.regex_match("xyz", "x") is True
    assert regex.regex_match("axyz", "x") is False  # at the beginning only
    assert regex.regex_match("v1.2.3", "^v(\\d+\\.)?(\\d+\\.)?(\\*|\\d+)$") is True
    assert regex.regex_match("ABC", "a", True) is True
    assert regex.regex_search("axyz", "y") is True
    assert regex.regex_search("abc", "y") is False
    assert regex.regex_search(1234, "23") is True  # not a string: its str()
    assert regex.regex_replace("x marks", "x", "y") == "y marks"
    assert regex.regex_replace("red and blue", "(blue|white|red)", "beautiful color \\1") \
        == "beautiful color red and beautiful color blue"
    assert regex.regex_substring("v1.2.3 and v4.5", "v(\\d)") == "1"
    assert regex.regex_substring("v1.2.3 and v4.5", "v(\\d)", 1) == "4"
    assert regex.regex_substring("a1b2", "[a-z][0-9]") == "a1"
    with pytest.raises(IndexError):
        regex.regex_substring("abc", "z")
    with pytest.raises(Exception, match=r"unterminated|missing"):
        regex.regex_search("abc", "(")


def test_a_catastrophic_regex_stops_at_its_time_bound() -> None:
    with bounds.time_budget(lambda: 0.2):
        started = time.monotonic()
        with pytest.raises(bounds.RegexTimeout):
            regex.regex_search("a" * 5000 + "!", "(a|aa)+$")
        assert time.monotonic() - started < 3


def test_a_replace_that_would_build_a_huge_string_is_refused() -> None:
    with pytest.raises(bounds.LimitExceeded):
        regex.regex_replace("a" * 100_000, "", "x" * 1000)


# --- time ------------------------------------------------------------------------------

@pytest.mark.parametrize(("seconds", "expected"), [
    (0, "0s"), (0.5, "0.5\u03bcs"), (1, "1s"), (59, "59s"), (60, "1m0s"), (3601, "1h0m1s"),
    (3 * 86400 + 5 * 3600 + 6, "3d5h0m6s"), (86400 * 365 + 1, "1y0d0h0m1s"),
    (40 * 86400, "9d0h0m0s"),  # as StackStorm: the day of the month, months dropped
    (1.4, "1s"), (2.5, "3s"),
])
def test_to_human_time_from_seconds(seconds: float, expected: str) -> None:
    assert st2_time.to_human_time_from_seconds(seconds) == expected


def test_to_human_time_from_seconds_wants_a_number() -> None:
    with pytest.raises(AssertionError):
        st2_time.to_human_time_from_seconds("60")


# --- misc, version ---------------------------------------------------------------------

def test_use_none() -> None:
    assert misc.use_none(None) == "%*****__%NONE%__*****%"
    assert misc.use_none(0) == 0 and misc.use_none("x") == "x"


def test_versions_as_documented() -> None:
    assert version.version_compare("0.10.0", "0.10.1") == -1
    assert version.version_compare("0.10.1", "0.10.1") == 0
    assert version.version_compare("0.11.0", "0.10.1") == 1
    assert version.version_equal("0.10.0", "0.10.0") is True
    assert version.version_less_than("1.6.0", "1.7.0") is True
    assert version.version_more_than("1.6.0", "1.7.0") is False
    assert version.version_more_than("0.10.2", "0.10.1") is True
    assert version.version_match("2.0.0", ">=1.0.0") is True
    assert version.version_match("0.10.0", ">0.10.0") is False
    assert version.version_match("0.10.0", "==0.10.0") is True
    assert version.version_match("0.9.0", "<=0.10.0") is True
    assert version.version_bump_major("0.10.1") == "1.0.0"
    assert version.version_bump_minor("0.10.1") == "0.11.0"
    assert version.version_bump_patch("0.10.1") == "0.10.2"
    assert version.version_strip_patch("0.10.1") == "0.10"
    with pytest.raises(ValueError, match=r"1\.0 is not valid SemVer string"):
        version.version_compare("1.0", "1.0.0")
    with pytest.raises(ValueError, match="is not valid SemVer string"):
        version.version_bump_major("one")
    with pytest.raises(ValueError, match="should be in format <op><ver>"):
        version.version_match("1.0.0", "1.0.0")


# --- bounds ----------------------------------------------------------------------------

def test_dumps_of_huge_shared_values_are_refused() -> None:
    inner = list(range(2000))
    huge = [inner] * 2000  # 4 million values in the dump
    for name in ("to_json_string", "to_yaml_string", "to_complex", "json_escape"):
        with pytest.raises(bounds.LimitExceeded):
            F[name](huge)
    with pytest.raises(bounds.LimitExceeded):  # a small value, a huge indent
        data.to_json_string([[1] * 1000] * 1000, indent=100)


def test_yaml_billion_laughs_is_refused() -> None:
    doc = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 8):
        doc += f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) \
            + "]\n"
    with pytest.raises(bounds.LimitExceeded):
        data.from_yaml_string(doc)


# --- in the engine's expressions: YAQL (fast path and YAQL's) and Jinja ----------------

DATA = {"v": "1.2.3", "s": "red and blue", "n": 3725, "o": {"a": {"b": {"c": 1234}}},
        "j": '{"k": [1, 2]}', "none": None}


@pytest.mark.parametrize(("expression", "expected"), [
    ("<% version_bump_minor($.v) %>", "1.3.0"),
    ("<% version_more_than($.v, '1.2.0') and $.n > 1 %>", True),
    ("<% regex_match($.s, 'red') %>", True),
    ("<% regex_substring($.s, '(b)lue') %>", "b"),
    ("<% regex_replace($.s, '(blue|red)', 'color \\\\1') %>", "color red and color blue"),
    ("<% to_human_time_from_seconds($.n) %>", "1h2m5s"),
    ("<% jsonpath_query($.o, 'a.b.c') %>", [1234]),
    ("<% from_json_string($.j).k.len() %>", 2),
    ("<% to_json_string($.o.a, indent => null) %>", '{"b":{"c":1234}}'),
    ("<% to_complex(list(1, 2)) %>", "[1, 2]"),
    ("<% use_none($.none) %>", "%*****__%NONE%__*****%"),
    ("{{ _.v | version_bump_major }}", "2.0.0"),
    ("{{ version_match(_.v, '<2.0.0') }}", True),
    ("{{ _.s | regex_search('blue') }}", True),
    ("{{ regex_substring(_.s, 'a(n)d') }}", "n"),
    ("{{ _.o | jsonpath_query('a.b.c') }}", [1234]),
    ("{{ _.j | from_json_string }}", {"k": [1, 2]}),
    ("{{ _.o | to_yaml_string }}", "a:\n    b:\n        c: 1234\n"),
    ("{{ _.n | to_human_time_from_seconds }}", "1h2m5s"),
    # as StackStorm's: every double quote at either end of the JSON text goes
    ("{{ 'say \"x\"' | json_escape }}", 'say \\"x\\'),
])
def test_in_workflow_expressions(expression: str, expected: Any) -> None:
    assert evaluate(expression, DATA) == expected


@pytest.mark.parametrize(("expression", "message"), [
    ("<% version_compare($.v, '1.0') %>", "ValueError: 1.0 is not valid SemVer string"),
    ("{{ version_compare(_.v, '1.0') }}", "ValueError: 1.0 is not valid SemVer string"),
    ("<% regex_substring($.s, 'zz') %>", "list index out of range"),
    ("{{ to_human_time_from_seconds('x') }}", "AssertionError"),
    ("<% version_bump_major($.v, 1, 2) %>", "version_bump_major"),  # YAQL: no such call
])
def test_errors_in_workflow_expressions(expression: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message.replace("(", "\\(")):
        evaluate(expression, DATA)


def test_yaql_fast_path_and_yaql_agree() -> None:
    from levante.engine.expressions.context import DataContext
    from levante.engine.expressions.yaql_lang import compile_yaql

    for text in ("version_bump_patch($.v)", "regex_search($.s, 'BLUE', true)",
                 "jsonpath_query($.o, '$..c')", "to_json_string($.o)"):
        compiled = compile_yaql(text)
        assert compiled._fast is not None, text  # the fast path takes it
        fast = compiled.evaluate(DATA, DataContext(DATA))
        assert fast == compiled.evaluate_with_engine(DATA, DataContext(DATA)), text


# --- in the platform's Jinja ----------------------------------------------------------

def test_platform_jinja_renders_them() -> None:
    context = {"version": "0.10.1", "doc": '{"hosts": ["a", "b"]}', "seconds": 65}
    assert jinja_render.render("{{ version | version_bump_minor }}", context) == "0.11.0"
    assert jinja_render.render("{{ (doc | from_json_string).hosts }}", context) == ["a", "b"]
    assert jinja_render.render("took {{ seconds | to_human_time_from_seconds }}",
                               context) == "took 1m5s"
    assert jinja_render.render("data: {{ {'k': [1]} | to_json_string(None) }}", context) \
        == 'data: {"k":[1]}'
    with pytest.raises(jinja_render.RenderError,
                       match=r"ValueError: 1\.0 is not valid SemVer string"):
        jinja_render.render("{{ version | version_compare('1.0') }}", context)


def test_a_parameter_default_rendered_with_a_filter() -> None:
    # action parameters as the platform renders them: other parameters in the context
    parameters = {
        "version": "1.4.2",
        "next": "{{ version | version_bump_major }}",
        "settings": {"tags": ["{{ 'a-1 b-2' | regex_replace('-', '_') }}"],
                     "branch": "release-{{ version | version_strip_patch }}"},
    }
    rendered = jinja_render.render_value(parameters, {"version": parameters["version"]})
    assert rendered == {"version": "1.4.2", "next": "2.0.0",
                        "settings": {"tags": ["a_1 b_2"], "branch": "release-1.4"}}
