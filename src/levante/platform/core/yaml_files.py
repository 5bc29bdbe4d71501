"""Reading a pack's YAML files (pack.yaml, actions, chains, workflows, rules, sensors,
config schemas): one reader, so that every refusal says the same thing the same way and
names the line and column of a syntax error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class YamlFileError(ValueError):
    """The file cannot be read or is not YAML; the message says why (without the path,
    which the caller puts in front)."""


def load_yaml_text(text: str) -> Any:
    """The document of ``text``; YamlFileError naming the line and column of a mistake."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise YamlFileError(f"is not valid YAML: {where}{problem}") from None


def read_yaml(path: Path) -> Any:
    """The document of the file at ``path`` (UTF-8)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise YamlFileError(f"cannot be read: {reason}") from None
    return load_yaml_text(text)
