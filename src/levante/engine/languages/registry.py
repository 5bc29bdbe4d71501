"""Workflow languages by name: the one place a language is registered.

Built-in languages are listed in `BUILTIN` (name -> module holding a `LANGUAGE` object) and
imported on first use, so a process that never reads a definition does not load parsers.
`register()` adds a language from outside the package (a plugin or a test) at start-up.
"""

from __future__ import annotations

import importlib
import threading

from levante.engine.languages.base import DEFAULT_LANGUAGE, WorkflowLanguage

BUILTIN: dict[str, str] = {
    DEFAULT_LANGUAGE: "levante.engine.languages.mistral_v2",
}

_loaded: dict[str, WorkflowLanguage] = {}
_lock = threading.Lock()


class UnknownLanguage(LookupError):
    """No language of that name is registered; the message lists the known ones."""


def names() -> list[str]:
    """Every language that `get` can return."""
    with _lock:
        return sorted(set(BUILTIN) | set(_loaded))


def get(name: str | None = None) -> WorkflowLanguage:
    """The language called `name` (the default one when None or empty)."""
    key = name or DEFAULT_LANGUAGE
    with _lock:
        found = _loaded.get(key)
    if found is not None:
        return found
    module_name = BUILTIN.get(key)
    if module_name is None:
        raise UnknownLanguage(
            f"unknown workflow language {key!r} (known: {', '.join(names())})"
        )
    language: WorkflowLanguage = importlib.import_module(module_name).LANGUAGE
    with _lock:
        _loaded[key] = language
    return language


def register(language: WorkflowLanguage) -> None:
    """Make `language` known under `language.name` (replacing one of that name)."""
    with _lock:
        _loaded[language.name] = language


def unregister(name: str) -> None:
    """Forget a language added by `register` (built-in ones come back on next `get`)."""
    with _lock:
        _loaded.pop(name, None)
