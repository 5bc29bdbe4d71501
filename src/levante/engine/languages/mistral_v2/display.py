"""How Mistral shows a stored definition: each one's own text, its input on one line, its
tags as written in the YAML (not as normalised by the parser)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

_TOP_KEY_RE = re.compile(r"^(?P<key>[^\s#\-][^:]*|\"[^\"]*\"|'[^']*'):(\s|$)")


def input_display(params: Iterable[Any], as_json: bool = False) -> str:
    """Mistral's one-line form of an input: 'a, b=1' (actions show defaults as JSON)."""
    out: list[str] = []
    for param in params or []:
        if isinstance(param, dict):
            out.extend(
                f"{k}={json.dumps(v, default=str) if as_json else v}" for k, v in param.items()
            )
        else:
            out.append(str(param))
    return ", ".join(out)


def load_raw(text: str) -> dict[str, Any]:
    """The raw YAML document; shape errors come from the parser."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def tags(raw: Any) -> list[str]:
    if isinstance(raw, list):
        return [str(t) for t in raw]
    return []


def cut_definition(text: str, name: str) -> str:
    """The part of a multi-workflow (or multi-action) text that defines `name`.

    One definition per row, as Mistral shows it: a header with the version, then the
    lines of that top-level key, comments and formatting kept.
    """
    lines = text.splitlines()
    starts: list[tuple[int, str]] = []
    for index, line in enumerate(lines):
        match = _TOP_KEY_RE.match(line)
        if match:
            starts.append((index, match.group("key").strip().strip("'\"")))
    keys = [key for _, key in starts if key not in ("version", "description")]
    if len(keys) <= 1:
        return text
    for pos, (index, key) in enumerate(starts):
        if key == name:
            end = starts[pos + 1][0] if pos + 1 < len(starts) else len(lines)
            body = "\n".join(lines[index:end]).rstrip()
            return f"---\nversion: '2.0'\n\n{body}\n"
    return text


def sub_definition(raw_section: Any, short: str) -> str:
    """The text shown for one workflow or action of a workbook section."""
    body = raw_section.get(short) if isinstance(raw_section, Mapping) else None
    return "---\nversion: '2.0'\n\n" + yaml.safe_dump(
        {short: body or {}}, sort_keys=False, default_flow_style=False
    )


def shown_input_and_tags(
    spec_dict: Mapping[str, Any], raw: Any, as_json: bool
) -> tuple[str, list[str]]:
    """(input line, tags) of one definition; the YAML's own input and tags win over the
    parsed ones."""
    raw_map = raw if isinstance(raw, Mapping) else {}
    raw_input = raw_map.get("input")
    if raw_input is None:
        raw_input = spec_dict.get("input") or []
    raw_tags = raw_map.get("tags")
    if raw_tags is None:
        raw_tags = spec_dict.get("tags")
    shown = input_display(raw_input if isinstance(raw_input, list) else [], as_json=as_json)
    return shown, tags(raw_tags)
