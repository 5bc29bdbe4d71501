"""YAQL `<% %>` and Jinja `{{ }}` expressions, bounded in time and size.

Public API: `evaluate`, `evaluate_guard`, `has_expression`, `is_expression`,
`check_syntax`, `ExpressionContext` (what the runtime provides), `ExpressionError`,
`ExpressionSyntaxError`, `ContextUnavailable`, `set_default_timeout`.
"""

from levante.engine.expressions import limits
from levante.engine.expressions.context import DataContext, ExpressionContext
from levante.engine.expressions.errors import (
    ContextUnavailable,
    ExpressionError,
    ExpressionSyntaxError,
)
from levante.engine.expressions.evaluator import (
    check_syntax,
    evaluate,
    evaluate_guard,
    has_expression,
    is_expression,
)


def set_default_timeout(seconds: float) -> None:
    """Time bound for expressions evaluated without an explicit `timeout` (config:
    `[engine] expression_timeout`)."""
    if seconds <= 0:
        raise ValueError("expression timeout must be positive")
    limits.DEFAULT_TIMEOUT = float(seconds)


__all__ = [
    "ContextUnavailable",
    "DataContext",
    "ExpressionContext",
    "ExpressionError",
    "ExpressionSyntaxError",
    "check_syntax",
    "evaluate",
    "evaluate_guard",
    "has_expression",
    "is_expression",
    "set_default_timeout",
]
