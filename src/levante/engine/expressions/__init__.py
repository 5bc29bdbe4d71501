"""YAQL `<% %>` and Jinja `{{ }}` expressions, bounded in time and size.

Public API: `evaluate`, `evaluate_guard`, `has_expression`, `is_expression`,
`check_syntax`, `ExpressionContext` (what the runtime provides), `ExpressionError`,
`ExpressionSyntaxError`, `ContextUnavailable`. Each evaluation is bounded by the
`timeout` its caller gives (the engine's ``[engine] expression_timeout``), else by
`limits.DEFAULT_TIMEOUT`.
"""

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
]
