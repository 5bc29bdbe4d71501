"""The platform's Jinja rendering: types kept for lone expressions, sandboxed, clear errors."""

from __future__ import annotations

import pytest

from levante.platform.core.jinja_render import RenderError, is_template, render, render_value


def test_a_lone_expression_keeps_its_type_and_text_gives_a_string() -> None:
    assert render("{{ a + 1 }}", {"a": 1}) == 2
    assert render("{{ items }}", {"items": [1, 2]}) == [1, 2]
    assert render("n={{ a }}", {"a": 1}) == "n=1"
    assert render_value({"k": ["{{ b }}", 3, "plain"]}, {"b": True}) == {"k": [True, 3, "plain"]}
    assert not is_template("no braces") and is_template("{% if x %}y{% endif %}")


def test_an_undefined_name_is_an_error_naming_it() -> None:
    for template in ("{{ missing }}", "x {{ missing }}"):
        with pytest.raises(RenderError, match="'missing' is undefined"):
            render(template, {})


def test_the_sandbox_refuses_unsafe_attributes() -> None:
    with pytest.raises(RenderError):
        render("{{ ''.__class__.__mro__[1].__subclasses__() }}", {})


def test_a_string_value_is_not_reparsed() -> None:
    """`{{ x | to_json_string }}` is a string, as StackStorm renders it, not an object."""
    assert render("{{ text }}", {"text": '{"a": 1}'}) == '{"a": 1}'
    assert render("{{ n }}", {"n": "42"}) == "42"
    assert render("{{ a }}{{ b }}", {"a": 1, "b": 2}) == "12"
