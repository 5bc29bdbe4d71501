"""Rule criteria: StackStorm's operators over dotted payload paths, as pure functions.

A rule's ``criteria`` maps a path (``trigger.body.alert.severity``,
``trigger.headers['X-Token']``) to ``{"type": operator, "pattern": ..., "condition":
...}``; the rule matches when every criterion does. As in StackStorm, a pattern string is
rendered with Jinja first (``{{ trigger.x }}``, ``{{ st2kv.system.y }}``; a lone
expression keeps its type, so ``inside`` can take a list), a missing path reads as
``None``, and an operator that cannot compare its operands (``lessthan`` on a string and a
number, ``contains`` on ``None``) does not match: nothing here raises for a payload.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from levante.platform.core.jinja_render import is_template, render

TRIGGER = "trigger"  # the name the payload has in criteria paths and templates
ITEM = "item"  # the name of each list item under a `search` criterion

Operator = Callable[[Any, Any], bool]


class CriteriaError(ValueError):
    """Criteria that no payload could match: unknown operator, bad shape (400 naming the
    criterion)."""


def _text(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _guard(check: Callable[[Any, Any], bool]) -> Operator:
    """An operator that is False for a missing pattern (``None``), as StackStorm's."""

    def operator(value: Any, pattern: Any) -> bool:
        if pattern is None:
            return False
        return bool(check(_text(value), _text(pattern)))

    return operator


def _lower(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value.lower()


def _age(value: Any) -> float:
    """Seconds from ``value`` (an ISO 8601 time, UTC when it names no zone) to now."""
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (datetime.now(UTC) - moment).total_seconds()


def _nequals(value: Any, pattern: Any) -> bool:
    return bool(_text(value) != _text(pattern))


def _exists(value: Any, pattern: Any) -> bool:
    return value is not None


def _nexists(value: Any, pattern: Any) -> bool:
    return value is None


OPERATORS: dict[str, Operator] = {
    "equals": _guard(lambda v, p: v == p),
    "nequals": _nequals,
    "iequals": _guard(lambda v, p: _lower(v) == _lower(p)),
    "contains": _guard(lambda v, p: p in v),
    "ncontains": _guard(lambda v, p: p not in v),
    "icontains": _guard(lambda v, p: _lower(p) in _lower(v)),
    "incontains": _guard(lambda v, p: _lower(p) not in _lower(v)),
    "startswith": _guard(lambda v, p: v.startswith(p)),
    "istartswith": _guard(lambda v, p: _lower(v).startswith(_lower(p))),
    "endswith": _guard(lambda v, p: v.endswith(p)),
    "iendswith": _guard(lambda v, p: _lower(v).endswith(_lower(p))),
    "lessthan": _guard(lambda v, p: v < p),
    "greaterthan": _guard(lambda v, p: v > p),
    "matchwildcard": _guard(lambda v, p: fnmatch.fnmatch(v, p)),
    # matchregex anchors at the start (re.match); regex and iregex search anywhere
    "matchregex": _guard(lambda v, p: re.compile(p, re.DOTALL).match(v) is not None),
    "regex": _guard(lambda v, p: re.compile(p).search(v) is not None),
    "iregex": _guard(lambda v, p: re.compile(p, re.IGNORECASE).search(v) is not None),
    "timediff_lt": _guard(lambda v, p: _age(v) < float(p)),
    "timediff_gt": _guard(lambda v, p: _age(v) > float(p)),
    "exists": _exists,
    "nexists": _nexists,
    "inside": _guard(lambda v, p: v in p),
    "ninside": _guard(lambda v, p: v not in p),
}

ALIASES: dict[str, str] = {
    "eq": "equals", "neq": "nequals", "ieq": "iequals", "lt": "lessthan",
    "gt": "greaterthan", "td_lt": "timediff_lt", "td_gt": "timediff_gt", "in": "inside",
    "nin": "ninside", "outside": "ninside", "match_wildcard": "matchwildcard",
    "match_regex": "matchregex",
}

SEARCH = "search"
CONDITIONS = ("any", "all")


def canonical(name: Any) -> str | None:
    """The operator's name without alias (case-insensitive), or None if unknown."""
    if not isinstance(name, str):
        return None
    found = _CANONICAL.get(name)
    if found is not None:
        return found
    lowered = name.lower()
    lowered = ALIASES.get(lowered, lowered)
    return lowered if lowered in OPERATORS or lowered == SEARCH else None


# every spelling in lower case, to its operator (built once: the hot path's lookup)
_CANONICAL: dict[str, str] = {**{n: n for n in OPERATORS}, SEARCH: SEARCH, **ALIASES}


def allowed() -> list[str]:
    """Every operator name a criterion may use, aliases included."""
    return sorted([*OPERATORS, *ALIASES, SEARCH])


# --- paths ------------------------------------------------------------------------------

_PART = re.compile(r"""\s*(?:\.?\s*([\w$@\-]+)"""
                   r"""|\[\s*(?:'([^']*)'|"([^"]*)"|(-?\d+))\s*\])""")


@functools.lru_cache(maxsize=4096)  # pure: the parts of a path never change
def path_parts(path: str) -> tuple[str | int, ...]:
    """``trigger.a.b``, ``trigger['x-y'][0]`` as their parts; CriteriaError if malformed."""
    parts: list[str | int] = []
    at = 0
    text = path.strip()
    while at < len(text):
        found = _PART.match(text, at)
        if found is None or found.end() == at:
            raise CriteriaError(f"'{path}' is not a payload path such as "
                                "trigger.body.field or trigger.headers['X-Name'].")
        name, single, double, index = found.groups()
        if index is not None:
            parts.append(int(index))
        else:
            parts.append(next(p for p in (name, single, double) if p is not None))
        at = found.end()
    if not parts:
        raise CriteriaError("an empty payload path")
    return tuple(parts)


def lookup(root: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` in ``root`` (``{"trigger": payload}``), None when missing."""
    try:
        parts = path_parts(path)
    except CriteriaError:
        return None
    value: Any = root
    for part in parts:
        if isinstance(part, int):
            if isinstance(value, list) and -len(value) <= part < len(value):
                value = value[part]
            elif isinstance(value, Mapping) and str(part) in value:
                value = value[str(part)]
            else:
                return None
        elif isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


# --- matching ---------------------------------------------------------------------------



def check(path: str, criterion: Any, root: Mapping[str, Any],
          names: Mapping[str, Any]) -> bool:
    """Whether one criterion holds for ``root`` (``{"trigger": payload}`` or, under a
    search, ``{"item": item}``); ``names``: what templates see beyond ``root``."""
    if not isinstance(criterion, Mapping):
        return False
    operator = canonical(criterion.get("type"))
    if operator is None:
        return False
    pattern = criterion.get("pattern")
    if isinstance(pattern, str) and is_template(pattern):
        try:
            pattern = render(pattern, {**names, **root})
        except Exception:  # a template that cannot render matches nothing
            return False
    value = lookup(root, path)
    try:
        if operator == SEARCH:
            return _search(value, pattern, criterion.get("condition"), names)
        return OPERATORS[operator](value, pattern)
    except Exception:  # operands it cannot compare: no match (StackStorm's way)
        return False


def _search(value: Any, pattern: Any, condition: Any, names: Mapping[str, Any]) -> bool:
    """``any``: some item of the list matches every child criterion; ``all``: each does."""
    if not isinstance(value, list) or not isinstance(pattern, Mapping):
        return False
    if condition not in CONDITIONS:
        return False
    results = (all(check(path, child, {ITEM: item}, names) for path, child in pattern.items())
               for item in value)
    return any(results) if condition == "any" else all(results)


def matches(criteria: Mapping[str, Any] | None, payload: Any,
            names: Mapping[str, Any] | None = None) -> bool:
    """Whether a rule's criteria all hold for ``payload``; ``names``: more names for the
    patterns' templates (``st2kv``). Empty criteria match everything; criteria and an
    empty payload match nothing (as StackStorm's)."""
    if not criteria:
        return True
    if not payload:
        return False
    root = {TRIGGER: payload}
    seen = dict(names or {})
    return all(check(path, criterion, root, seen) for path, criterion in criteria.items())


def validate(criteria: Any) -> dict[str, Any]:
    """The criteria if well formed, else CriteriaError naming the criterion and what is
    wrong (unknown operator, missing type, search without condition or child pattern)."""
    if criteria is None:
        return {}
    if not isinstance(criteria, Mapping):
        raise CriteriaError("'criteria' must be an object of payload path to "
                            "{type, pattern}.")
    for path, criterion in criteria.items():
        _validate_one(str(path), criterion, "criteria")
    return dict(criteria)


def _validate_one(path: str, criterion: Any, where: str) -> None:
    here = f"{where}.{path}"
    try:
        path_parts(path)
    except CriteriaError as exc:
        raise CriteriaError(f"'{here}': {exc}") from None
    if not isinstance(criterion, Mapping):
        raise CriteriaError(f"'{here}' must be an object with 'type' and 'pattern'.")
    kind = criterion.get("type")
    if kind is None:
        raise CriteriaError(f"'{here}' has no 'type' (the operator, e.g. equals).")
    operator = canonical(kind)
    if operator is None:
        raise CriteriaError(f"'{here}': unknown operator {kind!r}; one of "
                            f"{', '.join(allowed())}.")
    if operator in ("timediff_lt", "timediff_gt"):
        pattern = criterion.get("pattern")
        if not is_template(pattern) and (isinstance(pattern, bool) or
                                         not isinstance(pattern, int | float)):
            raise CriteriaError(f"'{here}': {kind} takes a number of seconds as its "
                                "pattern.")
    if operator == SEARCH:
        condition = criterion.get("condition")
        if condition not in CONDITIONS:
            raise CriteriaError(f"'{here}': search needs 'condition' any or all, not "
                                f"{condition!r}.")
        pattern = criterion.get("pattern")
        if not isinstance(pattern, Mapping) or not pattern:
            raise CriteriaError(f"'{here}': search needs 'pattern', an object of item "
                                "path (item.field) to criterion.")
        for child_path, child in pattern.items():
            _validate_one(str(child_path), child, f"{here}.pattern")
