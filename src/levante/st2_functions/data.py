"""StackStorm's data functions: JSON and YAML to and from strings, `to_complex`,
`json_escape`.

Defaults as StackStorm 2.10's filters: `to_json_string` indents by 4 with `,`/`:` as
separators; `to_yaml_string` indents by 4, block style, Unicode kept.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from levante.st2_functions import bounds

# Most values a YAML document may expand into through its aliases ("billion laughs").
MAX_YAML_VALUES = 1_000_000


def _text(value: Any) -> Any:
    return value if isinstance(value, str | bytes | bytearray) else str(value)


def from_json_string(value: Any) -> Any:
    """The value a JSON text stands for."""
    return json.loads(_text(value))


class _BoundedLoader(yaml.SafeLoader):
    """safe_load that refuses a document whose aliases would expand too much."""

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None and _expanded(node, {}) > MAX_YAML_VALUES:
            raise bounds.LimitExceeded(f"the YAML document would expand into more than "
                                       f"{MAX_YAML_VALUES} values (the limit)")
        return node


def _expanded(node: Any, seen: dict[int, int]) -> int:
    known = seen.get(id(node))
    if known is not None:
        return known
    seen[id(node)] = 1
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded(v, seen) for v in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded(k, seen) + _expanded(v, seen) for k, v in node.value)
    seen[id(node)] = min(total, MAX_YAML_VALUES + 1)
    return seen[id(node)]


def from_yaml_string(value: Any) -> Any:
    """The value a YAML text stands for (YAML's safe subset)."""
    return yaml.load(_text(value), Loader=_BoundedLoader)  # (a SafeLoader)


def to_json_string(value: Any, indent: Any = 4, sort_keys: Any = False,
                   separators: Any = (",", ":")) -> str:
    """`value` as JSON text."""
    count, depth = bounds.walk_size(value, "to_json_string")
    bounds.check_output(count, depth, indent, "to_json_string")
    return json.dumps(value, indent=indent, sort_keys=sort_keys,
                      separators=tuple(separators) if separators is not None else None)


def to_yaml_string(value: Any, indent: Any = 4, allow_unicode: Any = True) -> str:
    """`value` as YAML text (block style)."""
    count, depth = bounds.walk_size(value, "to_yaml_string")
    bounds.check_output(count, depth, indent, "to_yaml_string")
    text: str = yaml.safe_dump(value, indent=indent, allow_unicode=allow_unicode,
                               default_flow_style=False)
    return text


def to_complex(value: Any) -> str:
    """`value` as compact JSON text (`, ` and `: ` as separators, no indent)."""
    bounds.walk_size(value, "to_complex")
    return json.dumps(value)


def json_escape(value: Any) -> str:
    """`value` escaped for the inside of a JSON string: its JSON text without the
    double quotes at either end."""
    bounds.walk_size(value, "json_escape")
    return json.dumps(value).strip('"')
