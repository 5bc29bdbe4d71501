"""Small pure parts of the engine API: encoding, definition cutting, filters, OpenAPI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from levante.engine.api import encode
from levante.engine.api.app import ROUTES
from levante.engine.api.openapi import openapi_document
from levante.engine.languages.mistral_v2.display import cut_definition, input_display
from levante.engine.store.definitions import next_firing
from levante.engine.store.queries import split_filter


def test_times_are_utc_without_zone() -> None:
    paris = timezone(timedelta(hours=1))
    assert encode.fmt_time(datetime(2026, 1, 2, 4, 5, 6, 789, tzinfo=paris)) == (
        "2026-01-02 03:05:06"
    )
    assert encode.fmt_time(None) is None


def test_json_fields_are_json_text() -> None:
    row = {"id": "a", "root_execution_id": "a", "input": {"x": 1}, "output": None,
           "params": {"env": {}}, "created_at": datetime(2026, 1, 1, tzinfo=UTC)}
    ex = encode.execution(row)
    assert json.loads(ex["input"]) == {"x": 1}
    assert ex["output"] == "{}"
    assert ex["root_execution_id"] is None  # a root execution names no root
    assert "output" not in encode.execution(row, with_output=False)
    child = encode.execution({**row, "id": "b"})
    assert child["root_execution_id"] == "a"
    assert encode.only_fields(ex, ["state"]) == {"id": "a", "state": None}


def test_input_display_as_mistral() -> None:
    assert input_display(["a", {"b": 2}, {"c": "x"}]) == "a, b=2, c=x"
    assert input_display([]) == ""


def test_cut_definition_keeps_one_workflow() -> None:
    text = "version: '2.0'\n\nfirst:\n  tasks: {}\n\n# about second\nsecond:\n  tasks: {}\n"
    part = cut_definition(text, "second")
    assert "second:" in part and "first" not in part and part.startswith("---\nversion")
    only = "version: '2.0'\nsolo:\n  tasks: {}\n"
    assert cut_definition(only, "solo") == only


@pytest.mark.parametrize(("raw", "expected"), [
    ("eq:x", ("eq", "x")), ("x", ("eq", "x")), ("in:a,b", ("in", "a,b")),
    ("has:y", ("has", "y")), ("http://x", ("eq", "http://x")), ("gte:3", ("gte", "3")),
])
def test_split_filter(raw: str, expected: tuple[str, str]) -> None:
    assert split_filter(raw) == expected


def test_next_firing_is_strictly_after() -> None:
    at = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert next_firing("0 * * * *", at) == datetime(2026, 1, 1, 11, 0, tzinfo=UTC)
    assert next_firing("*/5 * * * *", at + timedelta(seconds=1)) == at + timedelta(minutes=5)


def test_openapi_describes_every_route() -> None:
    doc = openapi_document()
    undocumented = []
    for route in ROUTES:
        path = route.path
        if path in ("/", "/v2/", "/v2/openapi.json", "/identity/", "/identity/v3/"):
            continue
        if path.startswith("/v2/actions/{identifier}/"):
            continue
        for method in route.methods or ():
            if method == "HEAD":
                continue
            if method.lower() not in doc["paths"].get(path, {}):
                undocumented.append(f"{method} {path}")
    assert undocumented == []
