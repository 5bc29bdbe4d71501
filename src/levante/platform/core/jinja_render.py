"""Jinja as the platform renders it (action parameters, action-chain nodes): a sandboxed
environment with StackStorm's filters, and rendering of nested values.

A string holding `{{` or `{%` is a template; anything else is returned as it is. A string
that is one expression alone (`"{{ x }}"`) gives the expression's value itself (a list stays
a list, a string a string: nothing is re-parsed), for the caller to cast to the parameter's
type as StackStorm does; a template mixing text gives a string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment

from levante.platform.datastore.render import decrypt_kv
from levante.st2_functions import JINJA_FILTERS

_ONE_EXPRESSION = re.compile(r"^\s*\{\{((?:(?!\}\}|\{\{).)*)\}\}\s*$", re.S)


class RenderError(ValueError):
    """A template that cannot be rendered; the message names the template and why."""


def _make_environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.filters.update(JINJA_FILTERS)
    env.filters["decrypt_kv"] = decrypt_kv
    return env


_ENVIRONMENT = _make_environment()  # made at import, never changed


def environment() -> SandboxedEnvironment:
    """The platform's Jinja environment (one for the process, made at import)."""
    return _ENVIRONMENT


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def render(template: str, context: Mapping[str, Any]) -> Any:
    """`template` rendered with `context`; a lone expression keeps its value's type."""
    lone = _ONE_EXPRESSION.match(template)
    try:
        if lone is not None:
            result = environment().compile_expression(
                lone.group(1).strip(), undefined_to_none=False)(**dict(context))
            if isinstance(result, Undefined):
                str(result)  # raises, naming what is undefined
            return result
        return environment().from_string(template).render(dict(context))
    except TemplateError as exc:
        raise RenderError(f"cannot render {template!r}: {exc}") from None
    except (ValueError, TypeError, LookupError, AssertionError, OverflowError) as exc:
        # a filter's error (StackStorm's functions raise these, as StackStorm's did)
        raise RenderError(f"cannot render {template!r}: {type(exc).__name__}: {exc}") \
            from None


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """`value` with every template string in it (in lists and objects too) rendered."""
    if is_template(value):
        return render(value, context)
    if isinstance(value, Mapping):
        return {k: render_value(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    return value
