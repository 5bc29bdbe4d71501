"""Jinja in action parameters, rendered as StackStorm renders them.

Every value an execution starts with (given by the caller, or a default of the action or
its runner) may be a template: ``"{{ greeting }} {{ name }}"`` refers to other parameters,
``{{ config_context.key }}`` to the pack's config and ``{{ action_context.user }}`` to the
execution's context (``user``, ``pack``, ``parent``...). Values are rendered in the order of
their references; a cycle is refused naming its parameters. ``{{ st2kv.system.x }}`` and
``{{ st2kv.user.x }}`` read the datastore (see :mod:`levante.platform.datastore.render`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jinja2 import TemplateSyntaxError, meta

from levante.platform.core.jinja_render import RenderError, environment, is_template, render_value

CONFIG = "config_context"
ACTION = "action_context"
DATASTORE = ("st2kv", "system")  # `system.x`: the old spelling of `st2kv.system.x`


class RenderProblem(ValueError):
    """A parameter that cannot be rendered; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


def _templates(value: Any) -> Iterator[str]:
    if is_template(value):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _templates(item)
    elif isinstance(value, list):
        for item in value:
            yield from _templates(item)


def _secret_problem(name: str) -> RenderProblem:
    """A render error of a secret parameter: neither its text nor Jinja's message (which
    may quote it) is shown."""
    return RenderProblem(name, f"Parameter '{name}' (secret): its value cannot be rendered "
                               "as a Jinja template")


def references(name: str, value: Any, secret: bool = False) -> set[str]:
    """The names a value's templates use (parameters and the context's names)."""
    found: set[str] = set()
    for template in _templates(value):
        try:
            found |= meta.find_undeclared_variables(environment().parse(template))
        except TemplateSyntaxError as exc:
            if secret:
                raise _secret_problem(name) from None
            raise RenderProblem(name, f"Parameter '{name}': cannot render {template!r}: "
                                      f"{exc}") from None
    return found


def _order(deps: dict[str, set[str]]) -> list[str]:
    """Names so that each comes after those it refers to; RenderProblem on a cycle."""
    done: list[str] = []
    state: dict[str, int] = {}  # 1: being visited, 2: done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*path[path.index(name):], name]
            names = ", ".join(f"'{n}'" for n in sorted(set(cycle)))
            raise RenderProblem(cycle[0], f"Parameters {names} refer to each other in a "
                                          f"cycle ({' -> '.join(cycle)}); they cannot be "
                                          "rendered")
        state[name] = 1
        for dep in sorted(deps[name]):
            visit(dep, [*path, name])
        state[name] = 2
        done.append(name)

    for name in sorted(deps):
        visit(name, [])
    return done


def render_parameters(
    values: dict[str, Any],
    declared: set[str],
    conform: Callable[[str, Any], Any],
    action_context: Mapping[str, Any],
    config: Callable[[], Mapping[str, Any]],
    text_only: set[str] | None = None,
    secrets: set[str] | None = None,
    datastore: Callable[[], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """``values`` (name to given or default value) with their templates rendered, each
    passed through ``conform(name, value)`` (checking and casting) once rendered, in the
    order of their references; ``declared``: every parameter name of the action.

    ``config`` is called (once) only when a template uses ``config_context``;
    ``text_only``: parameters typed string, rendered as text (never as a native value);
    ``secrets``: parameters whose text never appears in an error; ``datastore``: the
    names of the datastore (``st2kv``), called only when a template uses them.
    """
    secrets = secrets or set()
    deps: dict[str, set[str]] = {}
    for name, value in values.items():
        used = references(name, value, name in secrets)
        for word in DATASTORE:
            if word in used and word not in declared and datastore is None:
                raise RenderProblem(name, f"Parameter '{name}': the datastore is not "
                                          f"supported by Levante ({{{{ {word}... }}}})")
        missing = sorted(u for u in used if u in declared and u not in values)
        if missing:
            raise RenderProblem(name, f"Parameter '{name}' refers to parameter "
                                      f"'{missing[0]}', which has no value")
        deps[name] = {u for u in used if u in values and u != name}
        if name in used and name in values:
            raise RenderProblem(name, f"Parameter '{name}' refers to itself")
    if not any(deps.values()) and not any(_has_templates(v) for v in values.values()):
        return {name: conform(name, value) for name, value in values.items()}
    context: dict[str, Any] = {ACTION: dict(action_context)}
    if any(CONFIG in references(n, v, n in secrets) for n, v in values.items()):
        context[CONFIG] = dict(config())
    if datastore is not None:
        context.update({k: v for k, v in datastore().items() if k not in declared})
    result: dict[str, Any] = {}
    for name in _order(deps):
        value = values[name]
        if _has_templates(value):
            try:
                if text_only and name in text_only and isinstance(value, str):
                    value = environment().from_string(value).render(context)
                else:
                    value = render_value(value, context)
            except Exception as exc:  # any error of the template, e.g. a filter's
                if name in secrets:
                    raise _secret_problem(name) from None
                reason = str(exc) if isinstance(exc, RenderError) \
                    else f"cannot render {value!r}: {exc}"
                raise RenderProblem(name, f"Parameter '{name}': {reason}") from None
        result[name] = conform(name, value)
        context[name] = result[name]
    return result


def _has_templates(value: Any) -> bool:
    return next(_templates(value), None) is not None
