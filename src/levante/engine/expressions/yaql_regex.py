"""YAQL's regular-expression functions (`regex()`, `matches`, `=~`, `!~`, `search`,
`searchAll`, `split`, `replace`, `replaceBy`, `escapeRegex`, `isRegex`), on the bounded
engine of `regexes` instead of Python's `re`: same names, arguments and results."""

from __future__ import annotations

from typing import Any

from yaql.language import specs, yaqltypes

from levante.engine.expressions import regexes

_R = regexes.Pattern
_STR = yaqltypes.String()


@specs.parameter("pattern", _STR)
def regex(pattern: str, ignore_case: bool = False, multi_line: bool = False,
          dot_all: bool = False) -> Any:
    flags = regexes.IGNORECASE if ignore_case else 0
    flags |= regexes.MULTILINE if multi_line else 0
    flags |= regexes.DOTALL if dot_all else 0
    return regexes.compile_pattern(pattern, flags)


@specs.parameter("regexp", _R)
@specs.parameter("string", _STR)
@specs.method
def matches(regexp: Any, string: str) -> bool:
    return regexes.search(regexp, string) is not None


@specs.parameter("string", _STR)
@specs.parameter("regexp", _STR)
@specs.method
@specs.name("matches")
def matches_string(string: str, regexp: str) -> bool:
    return regexes.search(regexp, string) is not None


@specs.parameter("regexp", _R)
@specs.parameter("string", _STR)
@specs.name("#operator_=~")
def op_matches(string: str, regexp: Any) -> bool:
    return regexes.search(regexp, string) is not None


@specs.parameter("pattern", _STR)
@specs.parameter("string", _STR)
@specs.name("#operator_=~")
def op_matches_string(string: str, pattern: str) -> bool:
    return regexes.search(pattern, string) is not None


@specs.parameter("regexp", _R)
@specs.parameter("string", _STR)
@specs.name("#operator_!~")
def op_not_matches(string: str, regexp: Any) -> bool:
    return regexes.search(regexp, string) is None


@specs.parameter("pattern", _STR)
@specs.parameter("string", _STR)
@specs.name("#operator_!~")
def op_not_matches_string(string: str, pattern: str) -> bool:
    return regexes.search(pattern, string) is None


def _groups(context: Any, found: Any) -> Any:
    """A child context where `$1` is the whole match, `$2`... the groups, `$name` the
    named groups: each {value, start, end}."""
    child = context.create_child_context()

    def record(group: Any) -> dict[str, Any]:
        return {"value": found.group(group), "start": found.start(group),
                "end": found.end(group)}

    child["$1"] = record(0)
    for i in range(1, len(found.groups()) + 1):
        child[f"${i + 1}"] = record(i)
    for name in found.groupdict():
        child[f"${name}"] = record(name)
    return child


@specs.parameter("regexp", _R)
@specs.parameter("string", _STR)
@specs.parameter("selector", yaqltypes.Lambda(with_context=True))
@specs.method
def search(context: Any, regexp: Any, string: str, selector: Any = None) -> Any:
    found = regexes.search(regexp, string)
    if found is None:
        return None
    if selector is None:
        return found.group()
    return selector(_groups(context, found))


@specs.parameter("regexp", _R)
@specs.parameter("string", _STR)
@specs.parameter("selector", yaqltypes.Lambda(with_context=True))
@specs.method
@specs.name("searchAll")
def search_all(context: Any, regexp: Any, string: str, selector: Any = None) -> Any:
    for found in regexes.finditer(regexp, string):
        yield found.group() if selector is None else selector(_groups(context, found))


@specs.parameter("regexp", _R)
@specs.parameter("string", _STR)
@specs.parameter("max_split", int)
@specs.method
def split(regexp: Any, string: str, max_split: int = 0) -> list[str]:
    return regexes.split(regexp, string, max_split)


@specs.parameter("string", _STR)
@specs.parameter("regexp", _R)
@specs.parameter("max_split", int)
@specs.method
@specs.name("split")
def split_string(string: str, regexp: Any, max_split: int = 0) -> list[str]:
    return regexes.split(regexp, string, max_split)


@specs.parameter("regexp", _R)
@specs.parameter("string", _STR)
@specs.parameter("repl", _STR)
@specs.parameter("count", int)
@specs.method
def replace(regexp: Any, string: str, repl: str, count: int = 0) -> str:
    return regexes.sub(regexp, repl, string, count)


@specs.parameter("string", _STR)
@specs.parameter("regexp", _R)
@specs.parameter("repl", _STR)
@specs.parameter("count", int)
@specs.method
@specs.name("replace")
def replace_string(string: str, regexp: Any, repl: str, count: int = 0) -> str:
    return regexes.sub(regexp, repl, string, count)


@specs.parameter("regexp", _R)
@specs.parameter("string", _STR)
@specs.parameter("repl", yaqltypes.Lambda(with_context=True))
@specs.parameter("count", int)
@specs.method
@specs.name("replaceBy")
def replace_by(context: Any, regexp: Any, string: str, repl: Any, count: int = 0) -> str:
    return regexes.sub(regexp, lambda m: repl(_groups(context, m)), string, count)


@specs.parameter("string", _STR)
@specs.parameter("regexp", _R)
@specs.parameter("repl", yaqltypes.Lambda(with_context=True))
@specs.parameter("count", int)
@specs.method
@specs.name("replaceBy")
def replace_by_string(context: Any, string: str, regexp: Any, repl: Any,
                      count: int = 0) -> str:
    return regexes.sub(regexp, lambda m: repl(_groups(context, m)), string, count)


@specs.parameter("string", _STR)
@specs.name("escapeRegex")
def escape_regex(string: str) -> str:
    return regexes.escape(string)


@specs.name("isRegex")
def is_regex(value: Any) -> bool:
    return isinstance(value, _R)


FUNCTIONS = (
    regex, matches, matches_string, op_matches, op_matches_string, op_not_matches,
    op_not_matches_string, search, search_all, split, split_string, replace, replace_string,
    replace_by, replace_by_string, escape_regex, is_regex,
)


def register(context: Any) -> None:
    for func in FUNCTIONS:
        context.register_function(func)
