"""Registering packs: load them from disk and store their valid actions.

A bad action file is reported (file and reason) and skipped; the pack's valid actions are
stored and its actions that disappeared from disk are removed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from levante.platform.configs import schema as config_schema
from levante.platform.configs import store as config_store
from levante.platform.core import store
from levante.platform.core.executions import forget_actions
from levante.platform.core.pack_env import PackEnvError, PackEnvSettings, ensure_virtualenv
from levante.platform.core.packs import ActionMeta, PackLoadFailed, discover_packs, load_pack


@dataclass
class RegisterReport:
    """What one registration did, per pack, and every error found."""

    packs: list[str] = field(default_factory=list)
    actions: int = 0
    removed: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    # What the content loaders registered, by kind ("rules": 2, "sensors": 1, ...).
    content: dict[str, int] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        return {"packs": self.packs, "actions": self.actions, "removed": self.removed,
                "errors": self.errors, **self.content}


@dataclass
class ContentLoaded:
    """What a content loader did for one pack: how many it registered, by kind, and one
    ``{"file", "reason"}`` per file it refused."""

    counts: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)


# A pack's content beyond actions and config (rules, sensors, trigger types), one line per
# feature: "module:function" with function(db, pack_name, pack_path) -> ContentLoaded.
# Loaders run in this order, after the pack's actions are stored.
CONTENT_LOADERS: tuple[str, ...] = (
    "levante.platform.sensors.loader:load_pack_sensors",
    "levante.platform.rules.packs:load_pack_rules",
)

ContentLoader = Callable[[Engine, str, Path], ContentLoaded]


def _loader(spec: str) -> ContentLoader:
    module_name, _, attr = spec.partition(":")
    found: ContentLoader = getattr(importlib.import_module(module_name), attr)
    return found


class UnknownPack(LookupError):
    """A pack name that is in none of the pack folders."""


def action_row(action: ActionMeta) -> dict[str, Any]:
    return {
        "ref": action.ref,
        "pack": action.pack,
        "name": action.name,
        "description": action.description,
        "runner_type": action.runner_type,
        "entry_point": action.entry_point,
        "enabled": action.enabled,
        "parameters": action.parameters,
        "tags": action.tags,
        "metadata_file": action.metadata_file,
        "notify": action.notify,
    }


def register_packs(
    db: Engine, packs_paths: list[str], names: list[str] | None = None,
    configs_path: Path | None = None,
    envs: PackEnvSettings | None = None,
) -> RegisterReport:
    """Register the named packs (all found when ``names`` is empty), with their configs
    (``<configs_path>/<pack>.yaml`` checked against the pack's ``config.schema.yaml``);
    with ``envs``, set up the virtual environment of each pack that has a
    ``requirements.txt`` and none yet."""
    found = discover_packs(packs_paths)
    wanted = list(names or []) or sorted(found)
    missing = [n for n in wanted if n not in found]
    if missing:
        raise UnknownPack(
            f"Pack {', '.join(repr(m) for m in missing)} cannot be found in the pack folders "
            f"({', '.join(str(p) for p in [*packs_paths, 'bundled']) })."
        )
    report = RegisterReport()
    for name in wanted:
        path: Path = found[name]
        try:
            meta, actions, errors = load_pack(path)
        except PackLoadFailed as exc:
            report.errors.append({"file": exc.file, "reason": exc.reason})
            continue
        pack_row = {
            "ref": meta.name, "name": meta.name, "description": meta.description,
            "version": meta.version, "author": meta.author, "path": str(meta.path),
        }
        written, removed = store.save_pack(db, pack_row, [action_row(a) for a in actions])
        forget_actions(db)
        report.packs.append(meta.name)
        report.actions += written
        report.removed += removed
        report.errors.extend({"file": e.file, "reason": e.reason} for e in errors)
        schema, values, config_file, problems = config_schema.register(
            meta.name, Path(meta.path), configs_path)
        config_store.save_pack_config(db, meta.name, schema, values, config_file)
        report.errors.extend({"file": f, "reason": r} for f, r in problems)
        for spec in CONTENT_LOADERS:
            loaded = _loader(spec)(db, meta.name, Path(meta.path))
            for kind, count in loaded.counts.items():
                report.content[kind] = report.content.get(kind, 0) + count
            report.errors.extend(loaded.errors)
        if envs is not None:
            try:
                ensure_virtualenv(envs, meta.name, meta.path)
            except PackEnvError as exc:
                report.errors.append({"file": str(meta.path / "requirements.txt"),
                                      "reason": str(exc)})
    return report


def pack_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "uid": f"pack:{row['ref']}",
        "ref": row["ref"],
        "name": row["name"],
        "description": row["description"],
        "version": row["version"],
        "author": row["author"],
        "path": row["path"],
        "keywords": [],
        "files": [],
    }
