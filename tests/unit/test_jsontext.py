"""The checks on client JSON: paths named, any depth walked without recursion."""

from __future__ import annotations

import json

import pytest

from levante import jsontext


@pytest.mark.parametrize(("raw", "path"), [
    ('{"a": {"b": ["ok", "\\u0000"]}}', "a.b[1]"),
    ('{"a": "\\ud800"}', "a"),
    ('{"a": {"k\\udfff": 1}}', 'a."k\\udfff"'),
    ('["\\udc00"]', "[0]"),
    ('{"with space": "\\u0000"}', '"with space"'),
])
def test_bad_text_names_its_path(raw: str, path: str) -> None:
    with pytest.raises(jsontext.BadJson) as caught:
        jsontext.loads(raw)
    assert caught.value.path == path
    assert str(caught.value).startswith(f"field '{path}'")


def test_good_text_passes_and_surrogate_pairs_are_fine() -> None:
    assert jsontext.loads('{"snow": "\\u2603", "pair": "\\ud83d\\ude00"}') == {
        "snow": "☃", "pair": "😀"}
    assert jsontext.loads('{"a": "\\u0000"}', text=False) == {"a": "\x00"}


def test_depth_is_limited_without_recursion() -> None:
    assert jsontext.loads("[" * 100 + "]" * 100, max_depth=100)
    with pytest.raises(jsontext.BadJson, match="nested more than 100 levels deep"):
        jsontext.loads("[" * 101 + "]" * 101)
    with pytest.raises(jsontext.BadJson, match="nested more than 100 levels deep"):
        jsontext.loads("[" * 100_000 + "]" * 100_000)  # the decoder's RecursionError
    value: list[object] = []
    for _ in range(50_000):  # built in Python: deeper than any stack
        value = [value]
    with pytest.raises(jsontext.BadJson, match="nested more than 100"):
        jsontext.check(value)


def test_safe_dumps_never_fails_on_stored_text() -> None:
    assert jsontext.safe_dumps({"a": "☃"}) == '{"a":"☃"}'.encode()
    dumped = jsontext.safe_dumps({"a": "x\ud800"})
    assert json.loads(dumped) == {"a": "x\ud800"}
