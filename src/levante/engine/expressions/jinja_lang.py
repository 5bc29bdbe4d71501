"""Jinja: one immutable sandbox for the process, compiled templates cached.

The sandbox refuses private attributes and methods that mutate data; `*` and `**` are
checked so an expression cannot build a huge string or number, and `range` is bounded by
the sandbox itself.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from levante.engine.expressions import context as fn
from levante.engine.expressions import limits
from levante.engine.expressions.context import ExpressionContext


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "*":
            for seq, n in ((left, right), (right, left)):
                if (isinstance(seq, str | list | tuple) and isinstance(n, int)
                        and len(seq) * n > limits.MAX_REPEAT):
                    raise SecurityError("the result of '*' would be too large")
            return operator.mul(left, right)
        if operator_ == "**":
            if isinstance(right, int | float) and abs(right) > 1000:
                raise SecurityError("exponent too large")
            return operator.pow(left, right)
        return super().call_binop(context, operator_, left, right)


ENV = _Sandbox(
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
    cache_size=0,  # we cache compiled templates ourselves
)
for _name, _f in (
    ("json_dump", fn.json_dump), ("json_pp", fn.json_pp), ("json_parse", fn.json_parse),
    ("yaml_dump", fn.yaml_dump), ("yaml_parse", fn.yaml_parse),
):
    ENV.filters[_name] = _f
    ENV.globals[_name] = _f
ENV.globals["uuid"] = fn.new_uuid


def _tasks(ctx: ExpressionContext, workflow_execution_id: Any = None, recursive: Any = False,
           state: Any = None, flat: Any = False) -> Any:
    return ctx.tasks(workflow_execution_id, bool(recursive), state)


def _task(ctx: ExpressionContext, task_name: Any = None) -> Any:
    return ctx.task(task_name)


def variables(data: Any, ctx: ExpressionContext) -> dict[str, Any]:
    """The names an expression sees: `_` for the data plus the context functions."""
    return {
        "_": data,
        "env": ctx.env,
        "execution": ctx.execution,
        "task": partial(_task, ctx),
        "tasks": partial(_tasks, ctx),
        "global": ctx.global_var,
    }


@lru_cache(maxsize=4096)
def compile_expression(text: str) -> Callable[..., Any]:
    """`text` is the inside of `{{ }}`; the result returns the raw value."""
    return ENV.compile_expression(text, undefined_to_none=False)


@lru_cache(maxsize=4096)
def compile_template(text: str) -> jinja2.Template:
    return ENV.from_string(text)


def check(text: str) -> None:
    """Raise jinja2.TemplateSyntaxError if `text` (a template) is malformed."""
    ENV.parse(text)


TemplateError = jinja2.TemplateError
UndefinedError = jinja2.UndefinedError
Undefined = jinja2.Undefined
