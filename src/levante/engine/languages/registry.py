"""Workflow languages by name: the one place a language is found.

Built-in languages are listed in `BUILTIN` (name -> module holding a `LANGUAGE` object) and
imported on first use, so a process that never reads a definition does not load parsers
(`sys.modules` keeps them: nothing is cached here). The languages an engine knows are a
value, `Languages`, in its settings (`EngineSettings.languages`): the built-in ones, plus
those a plugin or a test adds when it builds the settings (`BUILTIN_LANGUAGES.adding(...)`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from levante.engine.languages.base import DEFAULT_LANGUAGE, WorkflowLanguage

BUILTIN: Mapping[str, str] = MappingProxyType({
    DEFAULT_LANGUAGE: "levante.engine.languages.mistral_v2",
})


class UnknownLanguage(LookupError):
    """No language of that name is known; the message lists the known ones."""


@dataclass(frozen=True, eq=False)
class Languages:
    """The workflow languages an engine knows: the built-in ones and `added` (by name,
    replacing a built-in one of the same name)."""

    added: Mapping[str, WorkflowLanguage] = field(
        default_factory=lambda: MappingProxyType({}))

    def adding(self, *languages: WorkflowLanguage) -> Languages:
        """These languages and `languages` (each under its `name`)."""
        return Languages(MappingProxyType({**self.added,
                                           **{lang.name: lang for lang in languages}}))

    def names(self) -> list[str]:
        """Every language that `get` can return."""
        return sorted(set(BUILTIN) | set(self.added))

    def get(self, name: str | None = None) -> WorkflowLanguage:
        """The language called `name` (the default one when None or empty)."""
        key = name or DEFAULT_LANGUAGE
        found = self.added.get(key)
        if found is not None:
            return found
        module_name = BUILTIN.get(key)
        if module_name is None:
            raise UnknownLanguage(
                f"unknown workflow language {key!r} (known: {', '.join(self.names())})"
            )
        # sys.modules holds it after the first import (import_module waits for a module
        # another thread is importing, a look into sys.modules would not)
        language: WorkflowLanguage = importlib.import_module(module_name).LANGUAGE
        return language


BUILTIN_LANGUAGES = Languages()
