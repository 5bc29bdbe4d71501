"""The action registry, input checking, and the small actions that need no server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from levante.config import load_config
from levante.engine.actions import (
    MASKED,
    ActionContext,
    ActionError,
    ActionInputError,
    StdAction,
    UnknownAction,
    get_action,
    is_std_action,
    list_actions,
)
from levante.engine.actions.base import parse_networks

CTX = ActionContext()


def run(name: str, input: dict[str, Any] | None = None, ctx: ActionContext = CTX) -> Any:
    return asyncio.run(get_action(name).call(input, ctx))


def test_registry_lists_every_standard_action() -> None:
    names = [a.name for a in list_actions()]
    assert names == sorted(names)
    for name in (
        "std.noop", "std.async_noop", "std.echo", "std.fail", "std.sleep", "std.http",
        "std.mistral_http", "std.ssh", "std.ssh_proxied", "std.email", "std.test_dict",
        "std.javascript", "std.js",
    ):
        assert name in names
        assert isinstance(get_action(name), StdAction)
        assert is_std_action(name)
        assert get_action(name).description


def test_unknown_action_names_the_action() -> None:
    with pytest.raises(UnknownAction, match=r"std\.nope"):
        get_action("std.nope")
    assert not is_std_action("std.nope")


def test_input_string_as_mistral_writes_it() -> None:
    assert get_action("std.echo").input_string == "output, delay=0"
    assert get_action("std.noop").input_string == ""
    assert get_action("std.http").input_string.startswith(
        'url, method="GET", params=null, body=null, json=null, headers=null'
    )
    assert get_action("std.test_dict").input_string == 'size=0, key_prefix="", val=""'


def test_validate_fills_defaults() -> None:
    assert get_action("std.echo").validate_input({"output": 1}) == {"output": 1, "delay": 0.0}
    assert get_action("std.noop").validate_input(None) == {}


def test_unknown_parameter_is_refused_by_name() -> None:
    with pytest.raises(ActionInputError) as info:
        get_action("std.echo").validate_input({"output": 1, "colour": "red"})
    assert info.value.parameter == "colour"
    assert "colour" in str(info.value) and "std.echo" in str(info.value)
    assert "output, delay" in str(info.value)


def test_input_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ActionInputError, match="mapping"):
        get_action("std.echo").validate_input(["output", 1])  # type: ignore[arg-type]


def test_missing_parameter_is_refused_by_name() -> None:
    with pytest.raises(ActionInputError) as info:
        get_action("std.echo").validate_input({})
    assert info.value.parameter == "output"
    assert "missing" in str(info.value) and "output" in str(info.value)
    assert isinstance(info.value, ActionError)


@pytest.mark.parametrize(
    ("name", "input", "parameter"),
    [
        ("std.echo", {"output": 1, "delay": "soon"}, "delay"),
        ("std.sleep", {"seconds": [1]}, "seconds"),
        ("std.test_dict", {"size": "many"}, "size"),
        ("std.test_dict", {"size": -1}, "size"),
        ("std.http", {"url": "ftp://x"}, "url"),
        ("std.http", {"url": 5}, "url"),
        ("std.http", {"url": "http://x", "method": "GE T"}, "method"),
        ("std.http", {"url": "http://x", "body": "a", "json": {"b": 1}}, "json"),
        ("std.http", {"url": "http://x", "headers": ["a"]}, "headers"),
        ("std.http", {"url": "http://x", "headers": {"a": "b\r\nc: d"}}, "headers"),
        ("std.http", {"url": "http://x", "auth": "nocolon"}, "auth"),
        ("std.http", {"url": "http://x", "auth": ["a", "b", "c"]}, "auth"),
        ("std.http", {"url": "http://x", "timeout": "never"}, "timeout"),
        ("std.http", {"url": "http://x", "timeout": 0}, "timeout"),
        ("std.http", {"url": "http://x", "allow_redirects": "maybe"}, "allow_redirects"),
        ("std.http", {"url": "http://x", "cookies": "a=b"}, "cookies"),
        ("std.ssh", {"cmd": "", "host": "h", "username": "u"}, "cmd"),
        ("std.ssh", {"cmd": "ls", "host": [], "username": "u"}, "host"),
        ("std.ssh", {"cmd": "ls", "host": "h", "username": "u", "port": 70000}, "port"),
        ("std.ssh", {"cmd": "ls", "host": "h", "username": "u",
                     "private_key_filename": "../../etc/shadow"}, "private_key_filename"),
        ("std.email", {"from_addr": "nobody", "to_addrs": ["a@b"]}, "from_addr"),
        ("std.email", {"from_addr": "a@b", "to_addrs": []}, "to_addrs"),
        ("std.email", {"from_addr": "a@b", "to_addrs": ["a@b"], "cc_addrs": [1]}, "cc_addrs"),
        ("std.email", {"from_addr": "a@b", "to_addrs": "a@b", "smtp_server": "h:x"},
         "smtp_server"),
    ],
)
def test_bad_values_are_refused_naming_the_parameter(
    name: str, input: dict[str, Any], parameter: str
) -> None:
    with pytest.raises(ActionInputError) as info:
        get_action(name).validate_input(input)
    assert info.value.parameter == parameter
    assert parameter in str(info.value)


def test_noop_and_async_noop() -> None:
    assert run("std.noop") is None
    noop = get_action("std.noop")
    assert noop.inline_ok and noop.can_run_inline({}) and noop.run_inline({}) is None
    assert not noop.is_async
    async_noop = get_action("std.async_noop")
    assert async_noop.is_async
    assert run("std.async_noop") is None


def test_echo_returns_output_unchanged() -> None:
    value = {"a": [1, 2, {"b": None}], "c": "d"}
    assert run("std.echo", {"output": value}) == value
    echo = get_action("std.echo")
    assert echo.run_inline(echo.validate_input({"output": "x"})) == "x"
    assert echo.can_run_inline(echo.validate_input({"output": "x"}))


def test_echo_with_delay_waits_and_is_not_inline() -> None:
    echo = get_action("std.echo")
    values = echo.validate_input({"output": "late", "delay": "0.2"})
    assert not echo.can_run_inline(values)
    start = time.monotonic()
    assert asyncio.run(echo.run(values, CTX)) == "late"
    assert time.monotonic() - start >= 0.19
    assert echo.validate_input({"output": 1, "delay": -3})["delay"] == 0


def test_fail_without_error_data() -> None:
    with pytest.raises(ActionError) as info:
        run("std.fail")
    assert info.value.result == "Fail action expected exception."
    with pytest.raises(ActionError):
        get_action("std.fail").run_inline({"error_data": None})


def test_fail_with_error_data_keeps_it() -> None:
    data = {"code": 42, "why": ["a", "b"]}
    with pytest.raises(ActionError) as info:
        run("std.fail", {"error_data": data})
    assert info.value.result == data
    assert "42" in str(info.value)


def test_sleep_waits() -> None:
    start = time.monotonic()
    assert run("std.sleep", {"seconds": 0.2}) is None
    assert time.monotonic() - start >= 0.19
    sleep = get_action("std.sleep")
    assert sleep.validate_input(None) == {"seconds": 1.0}
    assert not sleep.can_run_inline({"seconds": 1.0})
    assert sleep.can_run_inline({"seconds": 0.0})


def test_test_dict() -> None:
    assert run("std.test_dict", {"size": 3, "key_prefix": "k", "val": "v"}) == {
        "k0": "v", "k1": "v", "k2": "v",
    }
    assert run("std.test_dict") == {}
    assert run("std.test_dict", {"size": "2"}) == {"0": "", "1": ""}
    assert get_action("std.test_dict").inline_ok


@pytest.mark.parametrize("name", ["std.javascript", "std.js"])
def test_javascript_fails_clearly(name: str) -> None:
    with pytest.raises(ActionError, match="no JavaScript runtime"):
        run(name, {"script": "return 1;"})
    with pytest.raises(ActionInputError, match="script"):
        get_action(name).validate_input({})


def test_inline_only_for_cheap_side_effect_free_actions() -> None:
    inline = {a.name for a in list_actions() if a.inline_ok}
    assert {"std.noop", "std.echo", "std.fail", "std.test_dict"} <= inline
    assert not inline & {"std.http", "std.mistral_http", "std.ssh", "std.email", "std.sleep"}
    with pytest.raises(NotImplementedError):
        get_action("std.http").run_inline({})


def test_async_actions() -> None:
    assert {a.name for a in list_actions() if a.is_async} == {
        "std.async_noop", "std.mistral_http",
    }


def test_mask_input_hides_secrets() -> None:
    ssh = get_action("std.ssh")
    masked = ssh.mask_input({"cmd": "ls", "password": "hunter2", "private_key": ""})
    assert masked == {"cmd": "ls", "password": MASKED, "private_key": ""}
    email = get_action("std.email")
    assert email.mask_input({"smtp_password": "pw"})["smtp_password"] == MASKED
    assert get_action("std.http").mask_input({"auth": "u:p"})["auth"] == MASKED


def test_denied_networks_from_config() -> None:
    config = load_config(environ={}).with_overrides(
        {("engine", "http_denied_networks"): ["10.0.0.0/8", "fd00::/8"]}
    )
    networks = ActionContext(config=config).effective_denied_networks()
    assert [str(n) for n in networks] == ["10.0.0.0/8", "fd00::/8"]
    explicit = parse_networks(["192.168.1.7/16"])
    assert ActionContext(config=config, denied_networks=explicit).denied_networks == explicit
    assert str(explicit[0]) == "192.168.0.0/16"
    assert ActionContext().effective_denied_networks() == ()


def test_bad_denied_network_is_named() -> None:
    with pytest.raises(ValueError, match="not-a-net"):
        parse_networks(["10.0.0.0/8", "not-a-net"])
