"""The rules of a pack (``rules/*.yaml``), registered by ``pack register``.

One line in ``levante.platform.core.pack_registry.CONTENT_LOADERS`` runs
:func:`load_pack_rules` after the pack's actions are stored. Each good file is stored (a
rule keeps its id and its enabled state across registrations only through its file); a
file that cannot be a rule is reported with its reason and the others are stored
anyway; the rules whose file disappeared from the pack are removed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from levante.db.connect import writing
from levante.platform.core.pack_registry import ContentLoaded
from levante.platform.core.yaml_files import YamlFileError, read_yaml
from levante.platform.rules import model
from levante.platform.rules import store as rule_store
from levante.platform.triggers import builtin
from levante.platform.triggers import store as trigger_store

SUFFIXES = (".yaml", ".yml", ".json")


def _read(path: Path) -> Any:
    try:
        return read_yaml(path)
    except YamlFileError as exc:
        raise model.RuleError(str(exc)) from None


def load_pack_rules(db: Engine, pack_name: str, pack_path: Path) -> ContentLoaded:
    """Register the rules of the pack at ``pack_path``; counts and refused files."""
    folder = pack_path / "rules"
    files = sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file()) \
        if folder.is_dir() else []
    loaded = ContentLoaded()
    if files:  # registration may come before any API or rules engine started
        builtin.ensure_builtin(db)
    checked: list[model.Rule] = []
    seen: set[str] = set()
    for path in files:
        relative = f"rules/{path.name}"
        try:
            rule = model.checked(
                _read(path), user="", pack=pack_name, metadata_file=relative,
                trigger_type=lambda ref: trigger_store.get_trigger_type(db, ref))
            if rule.ref in seen:
                raise model.RuleError(f"names rule {rule.ref}, as another file does")
        except model.RuleError as exc:
            loaded.errors.append({"file": str(path), "reason": str(exc)})
            continue
        seen.add(rule.ref)
        checked.append(rule)
    with writing(db) as conn:
        for rule in checked:
            rule_store.save_rule_on(conn, rule)
        gone = [rule_id for ref, rule_id in rule_store.pack_rule_ids(conn, pack_name).items()
                if ref not in seen]
        for rule_id in gone:
            rule_store.delete_rule_on(conn, rule_id)
    loaded.counts["rules"] = len(checked)
    if gone:
        loaded.counts["rules_removed"] = len(gone)
    return loaded
