"""What a pack and its actions declare, as values: the types the loader (`packs`) makes and
the runners and parameters read (apart from the loader, so that they need not import it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class PackMeta:
    """What ``pack.yaml`` says about a pack, and where the pack lives."""

    name: str
    version: str
    description: str
    author: str
    path: Path


@dataclass(frozen=True)
class ActionMeta:
    """One action as its metadata file declares it.

    ``entry_point`` is the resolved absolute path of the script (``''`` when the action has
    none, as for ``local-shell-cmd``); ``parameters`` maps a name to its schema.
    """

    ref: str
    pack: str
    name: str
    description: str
    runner_type: str
    entry_point: str
    enabled: bool
    parameters: dict[str, dict[str, Any]]
    tags: list[Any] = field(default_factory=list)
    metadata_file: str = ""
    notify: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadError:
    """An action (or pack) file that could not be loaded, and why."""

    file: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"


class PackLoadFailed(Exception):
    """The pack itself cannot be loaded (no or bad ``pack.yaml``)."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason
