"""Syntax checks used when a definition is validated (no evaluation)."""

from levante.engine.expressions.errors import ExpressionSyntaxError
from levante.engine.expressions.evaluator import check_syntax, has_expression, is_expression

__all__ = ["ExpressionSyntaxError", "check_syntax", "has_expression", "is_expression"]
