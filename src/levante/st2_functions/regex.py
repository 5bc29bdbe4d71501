"""StackStorm's regular-expression functions: `regex_match`, `regex_search`,
`regex_replace`, `regex_substring`.

As StackStorm's: a value that is not a string is matched as `str(value)`; `ignorecase`
makes the match case-insensitive; the patterns have Python's `re` syntax. They run on
the bounded engine of `bounds`.
"""

from __future__ import annotations

from typing import Any

from levante.st2_functions import bounds


def _compiled(pattern: Any, ignorecase: Any) -> Any:
    return bounds.compile_pattern(str(pattern), bounds.IGNORECASE if ignorecase else 0)


def regex_match(value: Any, pattern: Any = "", ignorecase: Any = False) -> bool:
    """Whether `pattern` matches at the beginning of `value`."""
    text = bounds.as_text(value, "regex_match")
    return bounds.bounded(_compiled(pattern, ignorecase).match, text) is not None


def regex_search(value: Any, pattern: Any = "", ignorecase: Any = False) -> bool:
    """Whether `pattern` matches anywhere in `value`."""
    text = bounds.as_text(value, "regex_search")
    return bounds.bounded(_compiled(pattern, ignorecase).search, text) is not None


def regex_replace(value: Any = "", pattern: Any = "", replacement: Any = "",
                  ignorecase: Any = False) -> str:
    """`value` with every match of `pattern` replaced (`\\1`, `\\g<name>` refer to
    groups)."""
    text = bounds.as_text(value, "regex_replace")
    repl = str(replacement)
    if len(repl) > 1:  # (at most one match per position, plus the end)
        bounds.check_length(len(text) + (len(text) + 1) * len(repl), "regex_replace")
    result: str = bounds.bounded(_compiled(pattern, ignorecase).sub, repl, text)
    return result


def regex_substring(value: Any, pattern: Any = "", result_index: Any = 0,
                    ignorecase: Any = False) -> Any:
    """The `result_index`-th match of `pattern` in `value` (as `re.findall` gives them:
    the whole match, the group, or a list of the groups); IndexError when there is none."""
    text = bounds.as_text(value, "regex_substring")
    found = bounds.bounded(_compiled(pattern, ignorecase).findall, text)
    return found[result_index]
