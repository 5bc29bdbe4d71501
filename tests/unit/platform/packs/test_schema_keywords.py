"""Schema keywords a pack may use are all enforced; the others are refused at registration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from levante.platform.core.packs import ActionMeta, load_pack
from levante.platform.core.parameters import ParameterError, validate_parameters


def check(spec: dict[str, Any], value: Any) -> Any:
    act = ActionMeta(ref="t.act", pack="t", name="act", description="", runner_type="noop",
                     entry_point="", enabled=True, parameters={"p": spec})
    return validate_parameters(act, {}, {"p": value})["p"]


def refused(spec: dict[str, Any], value: Any) -> str:
    with pytest.raises(ParameterError) as info:
        check(spec, value)
    assert info.value.parameter == "p"
    return info.value.message


def test_pattern() -> None:
    spec = {"type": "string", "pattern": "^[a-z]+-[0-9]+$"}
    assert check(spec, "web-01") == "web-01"
    assert "does not match the pattern" in refused(spec, "Web 01")


@pytest.mark.parametrize(("fmt", "good", "bad"), [
    ("date-time", "2026-11-22T11:30:00Z", "2026-11-22 noon"),
    ("date-time", "2026-11-22T11:30:00.5+01:00", "2026-13-40T11:30:00Z"),
    ("date", "2026-02-28", "2026-02-30"),
    ("ipv4", "10.0.0.1", "10.0.0.256"),
    ("ipv6", "fe80::1", "10.0.0.1"),
    ("uri", "https://example.com/a?b=1", "not a uri"),
    ("email", "ops@example.com", "ops.example.com"),
    ("hostname", "web-01.example.com", "-web_01"),
])
def test_format(fmt: str, good: str, bad: str) -> None:
    spec = {"type": "string", "format": fmt}
    assert check(spec, good) == good
    assert f"is not a valid {fmt}" in refused(spec, bad)


def test_min_max_and_unique_items() -> None:
    spec = {"type": "array", "minItems": 1, "maxItems": 3, "uniqueItems": True}
    assert check(spec, "a,b") == ["a", "b"]
    assert "fewer than 1 items" in refused(spec, [])
    assert "more than 3 items" in refused(spec, [1, 2, 3, 4])
    assert "repeated" in refused(spec, [{"a": 1}, {"a": 1}])


def test_items_and_properties_are_checked_in_depth() -> None:
    spec = {"type": "array", "items": {"type": "string", "format": "ipv4"}}
    assert check(spec, "10.0.0.1,10.0.0.2") == ["10.0.0.1", "10.0.0.2"]
    assert "p[1]" in refused(spec, ["10.0.0.1", "nope"])
    obj = {"type": "object", "additionalProperties": False, "properties": {
        "port": {"type": "integer", "maximum": 65535, "required": True},
        "host": {"type": "string", "format": "hostname"}}}
    assert check(obj, {"port": "8080", "host": "db"}) == {"port": 8080, "host": "db"}
    assert "'p.port'" in refused(obj, {"port": 70000})
    assert "key 'user' is not allowed" in refused(obj, {"port": 1, "user": "x"})
    assert "key 'port' is required" in refused(obj, {"host": "db"})
    loose = {"type": "object", "additionalProperties": {"type": "integer"}}
    assert check(loose, "a=1,b=2") == {"a": 1, "b": 2}
    assert "p.b" in refused(loose, {"b": "two"})


def _register(tmp_path: Path, params_yaml: str) -> str:
    pack = tmp_path / "demo"
    (pack / "actions").mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: demo\nversion: 1.0.0\n")
    (pack / "actions" / "ok.yaml").write_text("name: ok\nrunner_type: noop\n")
    bad = pack / "actions" / "bad.yaml"
    bad.write_text(f"name: bad\nrunner_type: noop\nparameters:\n{params_yaml}")
    _, actions, errors = load_pack(pack)
    assert [a.ref for a in actions] == ["demo.ok"]
    assert len(errors) == 1 and errors[0].file == str(bad)
    return errors[0].reason


@pytest.mark.parametrize("keyword", ["oneOf", "anyOf", "patternProperties", "allOf"])
def test_unsupported_keyword_refused_naming_action_parameter_and_keyword(
    tmp_path: Path, keyword: str
) -> None:
    reason = _register(tmp_path, f"  target:\n    {keyword}: [{{type: string}}]\n")
    assert "action 'bad'" in reason and "parameter 'target'" in reason
    assert f"keyword '{keyword}' is not supported" in reason


@pytest.mark.parametrize(("spec", "reason"), [
    ("{type: string, pattern: '[a-'}", "'pattern' '[a-' is not a valid regular expression"),
    ("{type: string, format: ipv5}", "format 'ipv5' is not supported"),
    ("{type: array, minItems: -1}", "'minItems' must be a non-negative integer"),
    ("{type: array, uniqueItems: 'yes'}", "'uniqueItems' must be true or false"),
    ("{type: array, items: {type: string, oneOf: []}}", "items: keyword 'oneOf'"),
    ("{type: object, properties: {a: {format: nope}}}", "property 'a': format 'nope'"),
])
def test_bad_keyword_values_refused_at_registration(tmp_path: Path, spec: str,
                                                    reason: str) -> None:
    found = _register(tmp_path, f"  target: {spec}\n")
    assert "action 'bad'" in found and "parameter 'target'" in found
    assert reason in found, found
