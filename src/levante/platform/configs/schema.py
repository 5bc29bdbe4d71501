"""Pack configs, StackStorm's way: a pack may declare ``config.schema.yaml`` (one entry per
config key: ``type``, ``required``, ``default``, ``secret``, ``enum``, ``properties`` for
objects, ``items`` for arrays, ``description``), and its config is ``<pack>.yaml`` in the
configs folder (``[content] configs_path``).

At registration the schema's form and the config against the schema are checked (each
problem: the file and the reason), and the schema's defaults fill what the config leaves out.
The stored values are an action's ``self.config`` and the parameters' ``config_context``;
wherever a config is shown, its secret values read ``********``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from levante.platform.core.jinja_render import is_template
from levante.platform.core.json_types import is_of_type
from levante.platform.core.yaml_files import YamlFileError, read_yaml

MASK = "********"
SCHEMA_FILE = "config.schema.yaml"
TYPES = ("string", "integer", "number", "boolean", "object", "array", "null")

class ConfigInvalid(ValueError):
    """A config schema or config that is refused; the message says where and why."""


def _read(file: Path) -> Any:
    try:
        return read_yaml(file)
    except YamlFileError as exc:
        raise ConfigInvalid(str(exc)) from None


def _check_spec(path: str, spec: Any) -> None:
    if not isinstance(spec, dict):
        raise ConfigInvalid(f"'{path}' must be a mapping (type, description, default, ...), "
                            f"not {type(spec).__name__}")
    ptype = spec.get("type")
    if ptype is not None:
        types = ptype if isinstance(ptype, list) else [ptype]
        bad = [t for t in types if t not in TYPES]
        if bad or not types:
            raise ConfigInvalid(f"'{path}': type {ptype!r} is not one of {', '.join(TYPES)}")
    for flag in ("required", "secret"):
        if flag in spec and not isinstance(spec[flag], bool):
            raise ConfigInvalid(f"'{path}': '{flag}' must be true or false")
    if "enum" in spec and not isinstance(spec["enum"], list):
        raise ConfigInvalid(f"'{path}': 'enum' must be a list")
    props = spec.get("properties")
    if props is not None:
        if not isinstance(props, dict):
            raise ConfigInvalid(f"'{path}': 'properties' must be a mapping")
        for key, sub in props.items():
            _check_spec(f"{path}.{key}", sub)
    items = spec.get("items")
    if items is not None:
        _check_spec(f"{path}[]", items)
    extra = spec.get("additionalProperties")
    if isinstance(extra, dict):
        _check_spec(f"{path}.*", extra)
    elif extra is not None and not isinstance(extra, bool):
        raise ConfigInvalid(f"'{path}': 'additionalProperties' must be a mapping or a boolean")
    if "default" in spec and spec["default"] is not None and not is_template(spec["default"]):
        problem = _problem(path, spec["default"], spec, fill=False)
        if problem:
            raise ConfigInvalid(f"'{path}': its default does not fit its schema: {problem}")


def load_schema(pack_path: Path) -> dict[str, Any] | None:
    """The pack's config schema, None when it has none; ConfigInvalid when malformed."""
    file = pack_path / SCHEMA_FILE
    if not file.is_file():
        return None
    data = _read(file)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigInvalid("must be a mapping of config key to its schema")
    for key, spec in data.items():
        if not isinstance(key, str):
            raise ConfigInvalid(f"config key {key!r} must be a string")
        _check_spec(key, spec)
    return data


def load_values(file: Path) -> dict[str, Any] | None:
    """A config file's values, None when there is no such file; ConfigInvalid when bad."""
    if not file.is_file():
        return None
    data = _read(file)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigInvalid("must be a mapping of config key to value")
    return data


def _type_ok(value: Any, ptype: str) -> bool:
    return is_of_type(value, ptype, unknown=True)


def _problem(path: str, value: Any, spec: dict[str, Any], fill: bool,
             require: bool = True) -> str | None:
    """Why ``value`` does not fit ``spec`` (None if it does); with ``fill``, nested
    defaults are added to ``value`` in place."""
    if is_template(value):
        if "st2kv" in value or "system." in value:
            return f"'{path}': refers to the datastore, which is not supported by Levante"
        return None  # kept as written (StackStorm does not check such values either)
    ptype = spec.get("type")
    types = ptype if isinstance(ptype, list) else ([ptype] if ptype else [])
    if types and not any(_type_ok(value, t) for t in types):
        return f"'{path}': {_show(value, spec)} is not of type {' or '.join(types)}"
    enum = spec.get("enum")
    if isinstance(enum, list) and value not in enum:
        return f"'{path}': {_show(value, spec)} is not one of {enum}"
    if isinstance(value, dict):
        return _object_problem(path, value, spec, fill, require)
    items = spec.get("items")
    if isinstance(value, list) and isinstance(items, dict):
        for index, item in enumerate(value):
            problem = _problem(f"{path}[{index}]", item, items, fill, require)
            if problem:
                return problem
    return None


def _object_problem(path: str, value: dict[str, Any], spec: dict[str, Any],
                    fill: bool, require: bool = True) -> str | None:
    props = spec.get("properties") if isinstance(spec.get("properties"), dict) else {}
    assert isinstance(props, dict)
    for key, sub in props.items():
        where = f"{path}.{key}" if path else str(key)
        if key in value:
            problem = _problem(where, value[key], sub, fill, require)
            if problem:
                return problem
        elif "default" in sub:
            if fill:
                value[key] = copy.deepcopy(sub["default"])
                if isinstance(value[key], dict):
                    _object_problem(where, value[key], sub, fill, require=False)
        elif sub.get("required") is True and require:
            return f"'{where}' is required"
        elif fill and sub.get("type") == "object" and isinstance(sub.get("properties"), dict):
            nested: dict[str, Any] = {}
            if _object_problem(where, nested, sub, fill, require) is None and nested:
                value[key] = nested
    extra = spec.get("additionalProperties", True)
    for key, item in value.items():
        if key in props:
            continue
        where = f"{path}.{key}" if path else str(key)
        if extra is False and path:
            return f"'{where}' is not allowed (allowed keys: {', '.join(sorted(props))})"
        if isinstance(extra, dict):
            problem = _problem(where, item, extra, fill, require)
            if problem:
                return problem
    return None


def _show(value: Any, spec: dict[str, Any]) -> str:
    if spec.get("secret") is True:
        return "(secret)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validated(schema: dict[str, Any] | None, values: dict[str, Any] | None) -> dict[str, Any]:
    """``values`` checked against ``schema`` with the schema's defaults filled in (a missing
    config: the defaults alone, nothing is required of it); ConfigInvalid naming the key."""
    result = copy.deepcopy(values) if values is not None else {}
    if not schema:
        return result
    problem = _object_problem("", result, {"properties": schema}, fill=True,
                              require=values is not None)
    if problem:
        raise ConfigInvalid(problem)
    return result


def mask(schema: dict[str, Any] | None, values: Any) -> Any:
    """A copy of ``values`` with every value the schema calls ``secret`` masked."""
    if not schema or not isinstance(values, dict):
        return values
    shown: dict[str, Any] = {}
    for key, value in values.items():
        spec = schema.get(key)
        if not isinstance(spec, dict):
            shown[key] = value
        elif spec.get("secret") is True and value is not None:
            shown[key] = MASK
        elif isinstance(spec.get("properties"), dict):
            shown[key] = mask(spec["properties"], value)
        else:
            shown[key] = value
    return shown


def register(pack: str, pack_path: Path, configs_path: Path | None
             ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str | None,
                        list[tuple[str, str]]]:
    """(schema, values, config file, errors as (file, reason)) for a pack being registered.

    The config file is ``<configs_path>/<pack>.yaml``, else the pack's own ``config.yaml``.
    A malformed schema or an invalid config is an error and leaves values None (the
    config is not used); without a config file, the values are the schema's defaults.
    """
    errors: list[tuple[str, str]] = []
    try:
        schema = load_schema(pack_path)
    except ConfigInvalid as exc:
        return None, None, None, [(str(pack_path / SCHEMA_FILE), str(exc))]
    file = configs_path / f"{pack}.yaml" if configs_path is not None else None
    if (file is None or not file.is_file()) and (pack_path / "config.yaml").is_file():
        file = pack_path / "config.yaml"  # the older place, inside the pack
    values: dict[str, Any] | None = None
    try:
        raw = load_values(file) if file is not None else None
        if raw is None and schema is None:
            return None, None, None, []
        values = validated(schema, raw)
    except ConfigInvalid as exc:
        errors.append((str(file), f"the config of pack {pack!r} is invalid: {exc}"))
        values = None
    shown_file = str(file) if file is not None and file.is_file() else None
    return schema, values, shown_file, errors
