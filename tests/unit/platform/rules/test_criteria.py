"""Rule criteria: every StackStorm operator and alias, paths, Jinja patterns, and odd
operand types that must not match rather than raise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from levante.platform.rules import criteria
from levante.platform.rules.criteria import CriteriaError, matches

PAYLOAD: dict[str, Any] = {
    "body": {
        "alert": {"severity": "High", "count": 5, "host": "web-01.example.com",
                  "tags": ["db", "prod"], "ratio": 0.5, "missing_value": None},
        "fields": [{"name": "Status", "to": "Approved"}, {"name": "Owner", "to": "ann"}],
    },
    "headers": {"X-Token": "abc", "Content-Type": "application/json"},
}


def one(path: str, kind: str, pattern: Any, payload: Any = None, **extra: Any) -> bool:
    return matches({path: {"type": kind, "pattern": pattern, **extra}},
                   PAYLOAD if payload is None else payload)


SEVERITY = "trigger.body.alert.severity"
COUNT = "trigger.body.alert.count"
HOST = "trigger.body.alert.host"


@pytest.mark.parametrize(("kind", "path", "pattern", "expected"), [
    ("equals", SEVERITY, "High", True),
    ("equals", SEVERITY, "high", False),
    ("eq", COUNT, 5, True),
    ("equals", COUNT, "5", False),  # no casting: a number is not its text
    ("nequals", SEVERITY, "Low", True),
    ("neq", SEVERITY, "High", False),
    ("iequals", SEVERITY, "HIGH", True),
    ("ieq", SEVERITY, "low", False),
    ("lessthan", COUNT, 10, True),
    ("lt", COUNT, 5, False),
    ("greaterthan", COUNT, 1, True),
    ("gt", "trigger.body.alert.ratio", 0.6, False),
    ("matchwildcard", HOST, "web-*.example.com", True),
    ("match_wildcard", HOST, "db-*", False),
    ("matchregex", HOST, r"web-\d+", True),
    ("matchregex", HOST, r"\d+", False),  # anchored at the start
    ("regex", HOST, r"\d+\.example", True),
    ("iregex", HOST, r"WEB", True),
    ("contains", HOST, "example", True),
    ("contains", "trigger.body.alert.tags", "prod", True),
    ("ncontains", HOST, "example", False),
    ("icontains", HOST, "EXAMPLE", True),
    ("incontains", HOST, "EXAMPLE", False),
    ("startswith", HOST, "web", True),
    ("istartswith", HOST, "WEB", True),
    ("endswith", HOST, ".com", True),
    ("iendswith", HOST, ".COM", True),
    ("endswith", HOST, ".org", False),
    ("exists", SEVERITY, None, True),
    ("exists", "trigger.body.alert.nothing", None, False),
    ("exists", "trigger.body.alert.missing_value", None, False),
    ("nexists", "trigger.body.alert.nothing", None, True),
    ("nexists", SEVERITY, None, False),
    ("inside", SEVERITY, ["High", "Critical"], True),
    ("in", SEVERITY, "Highest", True),  # a substring of the pattern's text, as in Python
    ("inside", SEVERITY, ["Low"], False),
    ("outside", SEVERITY, ["Low"], True),
    ("ninside", SEVERITY, ["High"], False),
    ("nin", SEVERITY, ["Low"], True),
    ("EQUALS", SEVERITY, "High", True),  # operators are case-insensitive
])
def test_operators(kind: str, path: str, pattern: Any, expected: bool) -> None:
    assert one(path, kind, pattern) is expected


def test_timediff() -> None:
    recent = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    old = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S")
    payload = {"recent": recent, "old": old}
    assert one("trigger.recent", "timediff_lt", 60, payload)
    assert not one("trigger.recent", "timediff_gt", 60, payload)
    assert one("trigger.old", "timediff_gt", 60, payload)  # no zone: UTC
    assert one("trigger.old", "td_gt", 60, payload)
    assert not one("trigger.old", "td_lt", 60, payload)
    assert not one("trigger.nothing", "timediff_lt", 60, payload)
    assert not one("trigger.recent", "timediff_lt", "soon", payload)


def test_search_any_and_all() -> None:
    child = {"item.name": {"type": "equals", "pattern": "Status"},
             "item.to": {"type": "equals", "pattern": "Approved"}}
    assert one("trigger.body.fields", "search", child, condition="any")
    assert not one("trigger.body.fields", "search", child, condition="all")
    every = {"item.name": {"type": "exists"}}
    assert one("trigger.body.fields", "search", every, condition="all")
    nested = {"item.to": {"type": "iequals", "pattern": "ANN"}}
    assert one("trigger.body.fields", "search", nested, condition="any")
    # not a list, no condition, an unknown condition: no match
    assert not one("trigger.body.alert", "search", child, condition="any")
    assert not one("trigger.body.fields", "search", child)
    assert not one("trigger.body.fields", "search", child, condition="some")


def test_paths() -> None:
    assert one("trigger.headers['X-Token']", "equals", "abc")
    assert one('trigger.headers["Content-Type"]', "startswith", "application")
    assert one("trigger.body.fields[1].to", "equals", "ann")
    assert one("trigger.body.fields.0.name", "equals", "Status")
    assert criteria.lookup({"trigger": PAYLOAD}, "trigger.body.nothing.deeper") is None
    assert criteria.lookup({"trigger": PAYLOAD}, "trigger..") is None


def test_jinja_patterns() -> None:
    assert one(COUNT, "lessthan", "{{ 4 + 2 }}")  # a lone expression keeps its type
    assert one(SEVERITY, "inside", "{{ ['High', 'Low'] }}")
    assert one(SEVERITY, "equals", "{{ trigger.body.alert.severity }}")
    assert one(HOST, "startswith", "web-{{ '0' }}")
    names = {"st2kv": {"system": {"level": "High"}}}
    assert matches({SEVERITY: {"type": "equals", "pattern": "{{ st2kv.system.level }}"}},
                   PAYLOAD, names)
    # a template that cannot render matches nothing
    assert not one(SEVERITY, "equals", "{{ nothing.here }}")


ODD = [None, 0, 1.5, "text", [1, "a"], {"k": 1}, True, b"x", "(", "["]


def test_odd_operands_never_raise() -> None:
    for kind in sorted(set(criteria.OPERATORS) | set(criteria.ALIASES)):
        for value in ODD:
            for pattern in ODD:
                result = matches({"trigger.v": {"type": kind, "pattern": pattern}},
                                 {"v": value})
                assert isinstance(result, bool), (kind, value, pattern)


def test_empty_criteria_and_payload() -> None:
    assert matches({}, {})
    assert matches(None, {"a": 1})
    assert not matches({"trigger.a": {"type": "nexists"}}, {})  # criteria need a payload
    assert not matches({"trigger.a": {"type": "unknown", "pattern": 1}}, {"a": 1})
    assert not matches({"trigger.a": {"pattern": 1}}, {"a": 1})


def test_validate() -> None:
    assert criteria.validate(None) == {}
    good = {"trigger.a": {"type": "eq", "pattern": 1},
            "trigger.l": {"type": "search", "condition": "all",
                          "pattern": {"item.x": {"type": "exists"}}}}
    assert criteria.validate(good) == good
    with pytest.raises(CriteriaError, match=r"'criteria.trigger.a': unknown operator 'like'"):
        criteria.validate({"trigger.a": {"type": "like", "pattern": 1}})
    with pytest.raises(CriteriaError, match="has no 'type'"):
        criteria.validate({"trigger.a": {"pattern": 1}})
    with pytest.raises(CriteriaError, match="condition"):
        criteria.validate({"trigger.l": {"type": "search", "pattern": {"item.x": {}}}})
    with pytest.raises(CriteriaError, match=r"criteria.trigger.l.pattern.item.x"):
        criteria.validate({"trigger.l": {"type": "search", "condition": "any",
                                         "pattern": {"item.x": {"type": "nope"}}}})
    with pytest.raises(CriteriaError, match="number of seconds"):
        criteria.validate({"trigger.t": {"type": "timediff_lt", "pattern": "soon"}})
    with pytest.raises(CriteriaError, match="must be an object"):
        criteria.validate(["trigger.a"])
