"""The one error a workflow language raises: it names where the problem is.

Every language raises it for a definition it refuses, so the API answers 400 the same way
whatever the language.
"""

from __future__ import annotations


class ValidationError(ValueError):
    """A workflow, workbook or action definition is invalid.

    `str()` names the workflow, task, field and line of the text (1-based) when known, so the API
    can answer 400 with a message the author can act on.
    """

    def __init__(
        self,
        message: str,
        workflow: str | None = None,
        task: str | None = None,
        field: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.workflow = workflow
        self.task = task
        self.field = field
        self.line = line

    def __str__(self) -> str:
        where = []
        if self.workflow:
            where.append(f"workflow '{self.workflow}'")
        if self.task:
            where.append(f"task '{self.task}'")
        if self.field:
            where.append(f"field '{self.field}'")
        if self.line:
            where.append(f"line {self.line}")
        if not where:
            return self.message
        return f"{', '.join(where)}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {
            "message": self.message,
            "workflow": self.workflow,
            "task": self.task,
            "field": self.field,
            "line": self.line,
        }
