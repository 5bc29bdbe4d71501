"""What an action execution stores as its input never holds a URL password or `auth`."""

from __future__ import annotations

import pytest

from levante.engine.actions import get_action
from levante.engine.actions.base import MASKED, mask_url_passwords


@pytest.mark.parametrize(("text", "expected"), [
    ("http://u:p@h/", f"http://u:{MASKED}@h/"),
    ("https://u:p@ss@h:8/x?y=a@b", f"https://u:{MASKED}@h:8/x?y=a@b"),
    ("go to ftp://b:c@d now", f"go to ftp://b:{MASKED}@d now"),
    ("http://token@h/", "http://token@h/"),
    ("http://h:8080/a@b:c", "http://h:8080/a@b:c"),
    ("mailto:a@b", "mailto:a@b"),
    ("plain", "plain"),
])
def test_url_passwords_are_masked(text: str, expected: str) -> None:
    assert mask_url_passwords(text) == expected


def test_nested_values_are_masked() -> None:
    value = {"a": ["http://x:y@z/", 3], "b": {"c": "http://x:y@z/"}}
    assert mask_url_passwords(value) == {
        "a": [f"http://x:{MASKED}@z/", 3], "b": {"c": f"http://x:{MASKED}@z/"},
    }


def test_std_http_input_is_masked_for_storage() -> None:
    action = get_action("std.http")
    raw = {"url": "http://alice:pw@127.0.0.1/", "auth": ["alice", "pw"], "method": "GET"}
    masked = action.mask_input(raw)
    assert masked == {"url": f"http://alice:{MASKED}@127.0.0.1/", "auth": MASKED,
                      "method": "GET"}
    assert raw["url"] == "http://alice:pw@127.0.0.1/"  # what runs is unchanged


def test_auth_is_masked_for_any_action() -> None:
    assert get_action("std.echo").mask_input({"output": "x", "auth": "a:b"}) == {
        "output": "x", "auth": MASKED,
    }
