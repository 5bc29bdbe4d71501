"""Errors of expression evaluation, worded for a task's `state_info`."""

from __future__ import annotations


def language_of(expression: str) -> str:
    return "YAQL" if "<%" in expression else "Jinja"


class ExpressionError(Exception):
    """An expression failed. `str()` names the expression and the error, never the data."""

    def __init__(self, expression: str, message: str) -> None:
        super().__init__(expression, message)
        self.expression = expression
        self.message = message

    @property
    def language(self) -> str:
        return language_of(self.expression)

    def __str__(self) -> str:
        return (
            f"Can not evaluate {self.language} expression "
            f"[expression={self.expression}, error={self.message}]"
        )


class ExpressionSyntaxError(ExpressionError):
    """An expression cannot be parsed (found when a definition is validated)."""

    def __str__(self) -> str:
        return f"invalid {self.language} expression '{self.expression}': {self.message}"


class ContextUnavailable(Exception):
    """Raised by an ExpressionContext when it cannot answer for a reason that is not the
    expression's fault (the database is busy or gone). It propagates unchanged instead of
    failing the task, so the caller can retry the step; database driver errors
    (SQLAlchemy, psycopg, sqlite3) propagate the same way.
    """
