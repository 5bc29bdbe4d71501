"""YAML loading that remembers where every mapping key was written.

The constructed data is plain Python (dict, list, str, ...); line numbers live in a side
table keyed by the identity of each dict, so specs never carry YAML types. Timestamps stay
strings (JSON-safe) and a key given twice is an error, where PyYAML would keep the last.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from levante.engine.languages.errors import ValidationError

try:  # the C parser is much faster; construction stays in Python either way
    _BaseLoader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


class Located:
    """Parsed YAML data plus the line of every dict and of every key in it."""

    def __init__(self, data: Any, lines: dict[int, tuple[int, dict[Any, int]]]) -> None:
        self.data = data
        self._lines = lines

    def line(self, container: Any, key: Any = None) -> int | None:
        """1-based line of `key` in dict `container` (or of the dict itself)."""
        entry = self._lines.get(id(container))
        if entry is None:
            return None
        if key is None:
            return entry[0]
        return entry[1].get(key, entry[0])


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    lines: dict[int, tuple[int, dict[Any, int]]]


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
    data: dict[Any, Any] = {}
    keys: dict[Any, int] = {}
    loader.lines[id(data)] = (node.start_mark.line + 1, keys)
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise ValidationError(
                "a mapping key must be a scalar", line=key_node.start_mark.line + 1
            ) from None
        if key in data:
            raise ValidationError(
                f"duplicate key '{key}'", line=key_node.start_mark.line + 1
            )
        data[key] = loader.construct_object(value_node, deep=True)
        keys[key] = key_node.start_mark.line + 1


def _construct_str(loader: _Loader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_str)
_Loader.add_constructor("tag:yaml.org,2002:binary", _construct_str)


def load(text: str | bytes) -> Located:
    """Parse one YAML document; malformed YAML raises ValidationError with its line."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValidationError(f"definition is not UTF-8 text: {e}") from None
    loader = _Loader(text)
    loader.lines = {}
    try:
        data = loader.get_single_data()
    except ValidationError:
        raise
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "invalid YAML"
        ctx = f" ({e.context})" if e.context and e.problem else ""
        raise ValidationError(
            f"malformed YAML: {problem}{ctx}", line=mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError as e:
        raise ValidationError(f"malformed YAML: {e}") from None
    finally:
        loader.dispose()
    if _expanded_size(data) > MAX_EXPANDED_VALUES:
        raise ValidationError(
            f"definition too large: its aliases expand to more than {MAX_EXPANDED_VALUES} "
            "values"
        )
    return Located(data, loader.lines)


# YAML aliases share one object, so a small text can stand for an enormous tree
# ("billion laughs"); everything that walks the definition later would pay for it.
MAX_EXPANDED_VALUES = 1_000_000


def _expanded_size(data: Any) -> int:
    """Number of values the data holds once aliases are expanded (linear time)."""
    sizes: dict[int, int] = {}

    def size(value: Any) -> int:
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            return 1
        known = sizes.get(id(value))
        if known is not None:
            return known
        sizes[id(value)] = MAX_EXPANDED_VALUES + 1  # a cycle counts as too large
        total = 1 + sum(size(child) for child in children)
        sizes[id(value)] = min(total, MAX_EXPANDED_VALUES + 1)
        return sizes[id(value)]

    return size(data)
