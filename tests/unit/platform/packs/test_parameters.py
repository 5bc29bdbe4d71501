"""Parameter validation with StackStorm's semantics, and secret masking."""

from __future__ import annotations

from typing import Any

import pytest

from levante.platform.core.packs import ActionMeta
from levante.platform.core.parameters import (
    MASK,
    ParameterError,
    mask_secrets,
    merge_schema,
    secret_names,
    validate_parameters,
)
from levante.platform.runners import get_runner

RUNNER: dict[str, dict[str, Any]] = {
    "cmd": {"type": "string"},
    "timeout": {"type": "integer", "default": 60},
    "sudo": {"type": "boolean", "default": False},
    "env": {"type": "object"},
    "sudo_password": {"type": "string", "default": None, "secret": True},
}


def action(params: dict[str, dict[str, Any]]) -> ActionMeta:
    return ActionMeta(ref="t.act", pack="t", name="act", description="", runner_type="noop",
                      entry_point="", enabled=True, parameters=params)


ACTION = action({
    "cmd": {"required": True},
    "sudo": {"immutable": True},
    "count": {"type": "integer", "default": 2},
    "ratio": {"type": "number"},
    "flag": {"type": "boolean"},
    "items": {"type": "array"},
    "opts": {"type": "object"},
    "color": {"type": "string", "enum": ["red", "green"]},
    "token": {"type": "string", "secret": True},
    "maybe": {"type": ["integer", "null"]},
    "nothing": {"type": "null"},
    "level": {"type": "integer", "minimum": 1, "maximum": 5},
    "ids": {"type": "array", "items": {"type": "integer"}},
})


def check(given: dict[str, Any]) -> dict[str, Any]:
    return validate_parameters(ACTION, RUNNER, given)


def test_defaults_filled_and_runner_parameters_merged() -> None:
    assert check({"cmd": "date"}) == {"cmd": "date", "timeout": 60, "sudo": False, "count": 2}


@pytest.mark.parametrize(("given", "expected"), [
    ({"count": "7"}, {"count": 7}),
    ({"count": 7}, {"count": 7}),
    ({"count": 7.0}, {"count": 7}),
    ({"ratio": "0.5"}, {"ratio": 0.5}),
    ({"ratio": "3"}, {"ratio": 3}),
    ({"flag": "true"}, {"flag": True}),
    ({"flag": "False"}, {"flag": False}),
    ({"flag": "1"}, {"flag": True}),
    ({"flag": True}, {"flag": True}),
    ({"items": "a, b,c"}, {"items": ["a", "b", "c"]}),
    ({"items": '[1, "x"]'}, {"items": [1, "x"]}),
    ({"items": [1, 2]}, {"items": [1, 2]}),
    ({"opts": '{"a": 1}'}, {"opts": {"a": 1}}),
    ({"opts": "a=1,b=x=y"}, {"opts": {"a": "1", "b": "x=y"}}),
    ({"opts": {"k": [1]}}, {"opts": {"k": [1]}}),
    ({"color": "red"}, {"color": "red"}),
    ({"maybe": "4"}, {"maybe": 4}),
    ({"maybe": None}, {"maybe": None}),
    ({"maybe": "null"}, {"maybe": None}),
    ({"nothing": None}, {"nothing": None}),
    ({"timeout": "5"}, {"timeout": 5}),
    ({"level": 5}, {"level": 5}),
    ({"cmd": 42}, {"cmd": "42"}),
    ({"ids": "1, 2,3"}, {"ids": [1, 2, 3]}),
    ({"ids": ["4"]}, {"ids": [4]}),
], ids=repr)
def test_coercions(given: dict[str, Any], expected: dict[str, Any]) -> None:
    result = check({"cmd": "x", **given})
    for key, value in expected.items():
        assert result[key] == value
        assert type(result[key]) is type(value)


@pytest.mark.parametrize(("given", "parameter", "words"), [
    ({}, "cmd", "required"),
    ({"cmd": None}, "cmd", "required"),
    ({"cmd": "x", "bogus": 1}, "bogus", "not allowed"),
    ({"cmd": "x", "sudo": True}, "sudo", "immutable"),
    ({"cmd": "x", "sudo": "false"}, "sudo", "immutable"),
    ({"cmd": "x", "count": "seven"}, "count", "not of type integer"),
    ({"cmd": "x", "count": "1.5"}, "count", "not of type integer"),
    ({"cmd": "x", "count": True}, "count", "not of type integer"),
    ({"cmd": "x", "ratio": "nan"}, "ratio", "not of type number"),
    ({"cmd": "x", "flag": "perhaps"}, "flag", "not of type boolean"),
    ({"cmd": "x", "items": {"a": 1}}, "items", "not of type array"),
    ({"cmd": "x", "opts": "novalue"}, "opts", "not of type object"),
    ({"cmd": "x", "opts": "[1]"}, "opts", "not of type object"),
    ({"cmd": "x", "color": "blue"}, "color", "not one of"),
    ({"cmd": "x", "maybe": "x"}, "maybe", "integer or null"),
    ({"cmd": "x", "nothing": 1}, "nothing", "not of type null"),
    ({"cmd": "x", "level": 0}, "level", "minimum"),
    ({"cmd": "x", "level": "6"}, "level", "maximum"),
    ({"cmd": ["a"]}, "cmd", "not of type string"),
    ({"cmd": "x", "ids": "1,two"}, "ids", "ids[1]"),
], ids=repr)
def test_refusals_name_the_parameter(given: dict[str, Any], parameter: str, words: str) -> None:
    with pytest.raises(ParameterError) as info:
        check(given)
    assert info.value.parameter == parameter
    assert parameter in str(info.value)
    assert words in str(info.value)


def test_not_a_mapping_is_refused() -> None:
    with pytest.raises(ParameterError):
        validate_parameters(ACTION, RUNNER, ["cmd"])  # type: ignore[arg-type]


def test_required_with_null_default_is_refused() -> None:
    act = action({"name": {"type": "string", "required": True, "default": None}})
    with pytest.raises(ParameterError, match="name"):
        validate_parameters(act, {}, {})


def test_action_overrides_runner_default_and_immutable_default_is_used() -> None:
    act = action({"cmd": {"default": "uptime", "immutable": True},
                  "timeout": {"default": 5}})
    assert validate_parameters(act, RUNNER, {}) == {"cmd": "uptime", "timeout": 5,
                                                    "sudo": False}
    merged = merge_schema(RUNNER, act.parameters)
    assert merged["timeout"] == {"type": "integer", "default": 5}


def test_real_runner_schema_for_core_local_like_action() -> None:
    act = action({"cmd": {"type": "string", "required": True}, "sudo": {"immutable": True}})
    params = validate_parameters(act, get_runner("local-shell-cmd").runner_parameters,
                                 {"cmd": "date", "env": "A=1,B=2", "timeout": "3"})
    assert params == {"cmd": "date", "env": {"A": "1", "B": "2"}, "kwarg_op": "--",
                      "sudo": False, "timeout": 3}


def test_secret_masking() -> None:
    schema = merge_schema(RUNNER, ACTION.parameters)
    assert secret_names(schema) == {"token", "sudo_password"}
    values = {"cmd": "date", "token": "s3cr3t", "sudo_password": None}
    masked = mask_secrets(schema, values)
    assert masked == {"cmd": "date", "token": MASK, "sudo_password": None}
    assert values["token"] == "s3cr3t"  # the input is left alone


def test_error_message_for_bad_value_does_not_leak_whole_long_value() -> None:
    with pytest.raises(ParameterError) as info:
        check({"cmd": "x", "count": "y" * 500})
    assert len(str(info.value)) < 200


def test_refusal_of_a_secret_never_shows_its_value() -> None:
    act = action({"pin": {"type": "integer", "secret": True, "maximum": 10},
                  "word": {"type": "string", "secret": True, "enum": ["a"]}})
    for given in ({"pin": "hunter2"}, {"pin": 99999}, {"word": "hunter2"}):
        with pytest.raises(ParameterError) as info:
            validate_parameters(act, {}, given)
        assert "hunter2" not in str(info.value) and "99999" not in str(info.value)
        assert "(secret)" in str(info.value)


def test_immutable_parameter_given_its_own_default_is_accepted() -> None:
    assert check({"cmd": "x", "sudo": False})["sudo"] is False
