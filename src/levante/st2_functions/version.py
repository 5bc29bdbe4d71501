"""StackStorm's `version_*` functions, on semantic versions (`semver`).

As StackStorm's: a version that is not `MAJOR.MINOR.PATCH[-pre][+build]` raises
ValueError (`'1.0' is not valid SemVer string`); a `version_match` expression needs one
of the operators `<`, `>`, `==`, `<=`, `>=`, `!=` before the version.
"""

from __future__ import annotations

from typing import Any

from semver import Version

_OPERATORS = ("<", ">", "==", "<=", ">=", "!=")


def _parse(value: Any) -> Version:
    return Version.parse(value)


def version_compare(value: Any, pattern: Any) -> int:
    """1 if `value` is the greater version, -1 if the smaller, 0 if equal."""
    return _parse(value).compare(_parse(pattern))


def version_more_than(value: Any, pattern: Any) -> bool:
    return version_compare(value, pattern) == 1


def version_less_than(value: Any, pattern: Any) -> bool:
    return version_compare(value, pattern) == -1


def version_equal(value: Any, pattern: Any) -> bool:
    return version_compare(value, pattern) == 0


def version_match(value: Any, pattern: Any) -> bool:
    """Whether `value` satisfies `pattern`, an operator then a version (`>=1.0.0`)."""
    text = str(pattern)
    if not (text[:2] in (">=", "<=", "==", "!=") or text[:1] in ("<", ">")):
        raise ValueError(
            "match_expr parameter should be in format <op><ver>, where <op> is one of "
            f"{list(_OPERATORS)}. You provided: {text!r}")
    return _parse(value).match(text)


def version_bump_major(value: Any) -> str:
    return str(_parse(value).bump_major())


def version_bump_minor(value: Any) -> str:
    return str(_parse(value).bump_minor())


def version_bump_patch(value: Any) -> str:
    return str(_parse(value).bump_patch())


def version_strip_patch(value: Any) -> str:
    """`MAJOR.MINOR` of `value`."""
    parsed = _parse(value)
    return f"{parsed.major}.{parsed.minor}"
