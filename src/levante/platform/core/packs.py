"""Packs: folders of StackStorm-style action metadata beside the scripts they run.

A pack is a folder holding ``pack.yaml`` and ``actions/*.yaml``. Loading a pack never stops
at the first bad action: each invalid metadata file is reported with its path and the
reason, and the valid actions are kept, so ``levante pack register`` can tell the operator
exactly what to fix without dropping what works.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from levante.platform.core.pack_types import ActionMeta as ActionMeta
from levante.platform.core.pack_types import LoadError as LoadError
from levante.platform.core.pack_types import PackLoadFailed as PackLoadFailed
from levante.platform.core.pack_types import PackMeta as PackMeta
from levante.platform.core.parameters import FORMAT_CHECKS
from levante.platform.core.yaml_files import read_yaml
from levante.platform.runners import runner_names

BUNDLED_PACKS_DIR = Path(__file__).parent.parent / "bundled_packs"

PARAMETER_TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")
# Runners that run a file of the pack, so their actions must name one.
NEEDS_ENTRY_POINT = frozenset({"local-shell-script", "run-local-script", "python-script",
                               "remote-shell-script", "run-remote-script",
                               "run-python", "mistral-v2", "levante-workflow"})
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_PACK_NAME_RE = re.compile(r"^[a-z0-9_][a-z0-9_-]*$", re.IGNORECASE)


def is_pack_name(name: object) -> bool:
    """A pack name is a plain identifier (letters, digits, ``_`` and ``-``): never a path,
    never ``..``, no dots or slashes."""
    return isinstance(name, str) and len(name) <= 255 and bool(_PACK_NAME_RE.match(name))


def pack_name_problem(name: object, what: str = "pack name") -> str | None:
    """Why ``name`` is not a pack name (for a 400 naming ``what``), or None."""
    if is_pack_name(name):
        return None
    shown = json.dumps(name)[:80] if isinstance(name, str) else type(name).__name__
    return (f"{what} {shown} is not a valid pack name: letters, digits, '_' and '-' only "
            "(no '.', '/' or '..').")
# Keys a parameter definition may carry (JSON-schema words StackStorm accepts, plus its own).
# Every one of them is enforced when a call is checked (levante.platform.core.parameters).
_PARAM_KEYS = frozenset({
    "type", "description", "default", "required", "immutable", "secret", "enum", "position",
    "items", "properties", "additionalProperties", "minimum", "maximum", "minLength",
    "maxLength", "pattern", "format", "title", "minItems", "maxItems", "uniqueItems",
})
# JSON-schema words StackStorm packs may use that Levante does not check: refused at
# registration, rather than accepted and silently ignored.
UNSUPPORTED_KEYWORDS = frozenset({
    "oneOf", "anyOf", "allOf", "not", "patternProperties", "dependencies", "$ref",
    "const", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minProperties",
    "maxProperties", "additionalItems", "contains", "propertyNames", "if", "then", "else",
})
_COUNT_KEYS = ("minLength", "maxLength", "minItems", "maxItems")


def read_pack_meta(path: Path) -> PackMeta:
    """Read ``pack.yaml``; raise :class:`PackLoadFailed` naming the file and reason."""
    meta_file = path / "pack.yaml"
    if not meta_file.is_file():
        raise PackLoadFailed(str(meta_file), "pack.yaml is missing")
    try:
        data = read_yaml(meta_file)
    except ValueError as exc:
        raise PackLoadFailed(str(meta_file), str(exc)) from None
    if not isinstance(data, dict):
        raise PackLoadFailed(str(meta_file), "pack.yaml must be a mapping")
    name = data.get("ref") or data.get("name") or path.name
    if not is_pack_name(name):
        field = "ref" if data.get("ref") else "name" if data.get("name") else "folder name"
        raise PackLoadFailed(str(meta_file), f"invalid pack name {name!r} ({field}): letters, "
                                             "digits, '_' and '-' only")
    display = data.get("name")
    if data.get("ref") and display is not None and (
            not isinstance(display, str) or any(c in display for c in "/\\\x00")
            or ".." in display):
        raise PackLoadFailed(str(meta_file), f"invalid pack name {display!r} (name)")
    version = data.get("version", "0.0.0")
    return PackMeta(
        name=name,
        version=str(version),
        description=str(data.get("description") or ""),
        author=str(data.get("author") or ""),
        path=path.resolve(),
    )


def _check_parameter(name: Any, spec: Any) -> str | None:
    """The reason a parameter definition is invalid, or None."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        return f"invalid parameter name {name!r}"
    return _check_schema(f"parameter {name!r}", spec, top=True)


def _check_schema(where: str, spec: Any, top: bool) -> str | None:
    """The reason a (possibly nested) schema is invalid or uses a word Levante won't check."""
    if not isinstance(spec, dict):
        return f"{where}: definition must be a mapping"
    unsupported = sorted(str(k) for k in spec if k in UNSUPPORTED_KEYWORDS)
    if unsupported:
        return (f"{where}: keyword {unsupported[0]!r} is not supported (Levante would not "
                "check it); remove it or express the rule with type, enum, pattern, "
                "format, items or properties")
    unknown = sorted(str(k) for k in spec if k not in _PARAM_KEYS)
    if unknown:
        return f"{where}: unknown attribute(s) {', '.join(unknown)}"
    ptype = spec.get("type")
    types = ptype if isinstance(ptype, list) else [ptype]
    if ptype is not None and not all(t in PARAMETER_TYPES for t in types):
        return (f"{where}: invalid type {ptype!r} "
                f"(one of {', '.join(PARAMETER_TYPES)})")
    for flag in ("required", "immutable", "secret", "uniqueItems"):
        if flag in spec and not isinstance(spec[flag], bool):
            return f"{where}: {flag!r} must be true or false"
    if "enum" in spec and not isinstance(spec["enum"], list):
        return f"{where}: 'enum' must be a list"
    if "position" in spec and (
        not top
        or isinstance(spec["position"], bool)
        or not isinstance(spec["position"], int)
        or spec["position"] < 0
    ):
        return f"{where}: 'position' must be a non-negative integer"
    return _check_keyword_values(where, spec)


def _check_keyword_values(where: str, spec: dict[str, Any]) -> str | None:

    for key in _COUNT_KEYS:
        value = spec.get(key)
        if key in spec and (isinstance(value, bool) or not isinstance(value, int)
                            or value < 0):
            return f"{where}: {key!r} must be a non-negative integer"
    for key in ("minimum", "maximum"):
        value = spec.get(key)
        if key in spec and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"{where}: {key!r} must be a number"
    if "pattern" in spec:
        pattern = spec["pattern"]
        if not isinstance(pattern, str):
            return f"{where}: 'pattern' must be a string"
        try:
            re.compile(pattern)
        except re.error as exc:
            return f"{where}: 'pattern' {pattern!r} is not a valid regular expression ({exc})"
    if "format" in spec and spec["format"] not in FORMAT_CHECKS:
        return (f"{where}: format {spec['format']!r} is not supported (supported: "
                f"{', '.join(sorted(FORMAT_CHECKS))})")
    if "items" in spec:
        if not isinstance(spec["items"], dict):
            return f"{where}: 'items' must be one schema (a mapping)"
        reason = _check_schema(f"{where} items", spec["items"], top=False)
        if reason:
            return reason
    properties = spec.get("properties", {})
    if not isinstance(properties, dict):
        return f"{where}: 'properties' must be a mapping of key to schema"
    for key, sub in properties.items():
        reason = _check_schema(f"{where} property {key!r}", sub, top=False)
        if reason:
            return reason
    extra = spec.get("additionalProperties", True)
    if isinstance(extra, dict):
        return _check_schema(f"{where} additionalProperties", extra, top=False)
    if not isinstance(extra, bool):
        return f"{where}: 'additionalProperties' must be true, false or a schema"
    return None


NOTIFY_KINDS = ("on-complete", "on-success", "on-failure")
_NOTIFY_FIELDS = {"message": str, "data": dict, "routes": list, "channels": list}


def check_notify(notify: Any) -> str | None:
    """Why a ``notify`` block is not StackStorm's shape, or None."""
    if not isinstance(notify, dict):
        return "'notify' must be a mapping of on-complete, on-success, on-failure"
    for kind, spec in notify.items():
        if kind not in NOTIFY_KINDS:
            return f"'notify' has an unknown key {kind!r} (on-complete, on-success, on-failure)"
        if spec is None:
            continue
        if not isinstance(spec, dict):
            return f"'notify.{kind}' must be a mapping"
        for key, value in spec.items():
            wanted = _NOTIFY_FIELDS.get(key)
            if wanted is None:
                return (f"'notify.{kind}' has an unknown key {key!r} "
                        "(message, data, routes, channels)")
            if not isinstance(value, wanted):
                return f"'notify.{kind}.{key}' must be a {wanted.__name__}"
            if isinstance(value, list) and not all(isinstance(v, str) for v in value):
                return f"'notify.{kind}.{key}' must be a list of strings"
    return None


def parse_action(
    data: Any, pack: PackMeta, metadata_file: Path, known_runners: set[str] | None = None
) -> ActionMeta:
    """Turn one action's metadata into an :class:`ActionMeta`; ``ValueError`` says why not."""
    if not isinstance(data, dict):
        raise ValueError("action metadata must be a mapping")
    name = data.get("name")
    if not name:
        raise ValueError("'name' is missing")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"invalid action name {name!r}")
    declared_pack = data.get("pack")
    if declared_pack is not None and declared_pack != pack.name:
        raise ValueError(f"'pack' is {declared_pack!r} but the action is in pack {pack.name!r}")
    runner_type = data.get("runner_type")
    if not runner_type or not isinstance(runner_type, str):
        raise ValueError("'runner_type' is missing")
    if known_runners is not None and runner_type not in known_runners:
        raise ValueError(f"unknown runner_type {runner_type!r}")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ValueError("'enabled' must be true or false")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise ValueError("'description' must be a string")
    params = data.get("parameters") or {}
    if not isinstance(params, dict):
        raise ValueError("'parameters' must be a mapping of name to definition")
    for pname, spec in params.items():
        reason = _check_parameter(pname, spec)
        if reason:
            raise ValueError(f"action {name!r}: {reason}")
    positions = [s["position"] for s in params.values() if "position" in s]
    if len(positions) != len(set(positions)):
        raise ValueError("two parameters share the same 'position'")
    entry = data.get("entry_point") or ""
    if not isinstance(entry, str):
        raise ValueError("'entry_point' must be a string")
    entry_path = ""
    if not entry and runner_type in NEEDS_ENTRY_POINT:
        raise ValueError(f"'entry_point' is required for runner_type {runner_type!r}")
    if entry:
        resolved = (metadata_file.parent / entry).resolve()
        if not resolved.is_relative_to(pack.path):
            raise ValueError(f"entry_point {entry!r} points outside the pack")
        if not resolved.is_file():
            raise ValueError(f"entry_point {entry!r} does not exist ({resolved})")
        entry_path = str(resolved)
    tags = data.get("tags") or []
    if not isinstance(tags, list):
        raise ValueError("'tags' must be a list")
    notify = data.get("notify") or {}
    problem = check_notify(notify)
    if problem:
        raise ValueError(problem)
    return ActionMeta(
        ref=f"{pack.name}.{name}",
        pack=pack.name,
        name=name,
        description=description,
        runner_type=runner_type,
        entry_point=entry_path,
        enabled=enabled,
        parameters={str(k): dict(v) for k, v in params.items()},
        tags=list(tags),
        metadata_file=str(metadata_file.resolve()),
        notify={str(k): v for k, v in notify.items() if v is not None},
    )


def load_pack(path: str | Path) -> tuple[PackMeta, list[ActionMeta], list[LoadError]]:
    """Load a pack folder: its metadata, its valid actions, and one error per bad file.

    Raises :class:`PackLoadFailed` only when ``pack.yaml`` itself is missing or invalid.
    Actions whose ``runner_type`` is unknown to :mod:`levante.platform.runners` are errors.
    """

    pack = read_pack_meta(Path(path))
    actions: list[ActionMeta] = []
    errors: list[LoadError] = []
    seen: dict[str, str] = {}
    actions_dir = pack.path / "actions"
    files = sorted(
        p for p in (actions_dir.iterdir() if actions_dir.is_dir() else [])
        if p.suffix in (".yaml", ".yml") and p.is_file()
    )
    known = runner_names()
    for file in files:
        try:
            action = parse_action(read_yaml(file), pack, file, known)
        except ValueError as exc:
            errors.append(LoadError(str(file), str(exc)))
            continue
        if action.name in seen:
            errors.append(LoadError(
                str(file), f"action {action.ref!r} is already defined in {seen[action.name]}"
            ))
            continue
        seen[action.name] = str(file)
        actions.append(action)
    return pack, actions, errors


def discover_packs(extra_paths: list[str]) -> dict[str, Path]:
    """Find packs: the bundled ones, then each folder of ``[content] packs_paths``.

    Each search folder holds pack folders (each with a ``pack.yaml``); a folder that is
    itself a pack is taken as one. A later path overrides an earlier pack of the same name.
    """
    found: dict[str, Path] = {}
    for base in [str(BUNDLED_PACKS_DIR), *extra_paths]:
        root = Path(base).expanduser()
        if not root.is_dir():
            continue
        candidates = [root] if (root / "pack.yaml").is_file() else sorted(root.iterdir())
        for folder in candidates:
            if not (folder / "pack.yaml").is_file():
                continue
            try:
                name = read_pack_meta(folder).name
            except PackLoadFailed:
                name = folder.name  # still listed, so registering it reports the error
            found[name] = folder.resolve()
    return found
