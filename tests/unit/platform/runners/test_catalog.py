"""Runner types as /v1/runnertypes lists them, and the helpers runners build on."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from levante.platform.core.packs import ActionMeta
from levante.platform.runners import (
    RunRequest,
    UnknownRunner,
    get_runner,
    runner_names,
    runner_types,
    sudo_refusal,
    timeout_of,
)
from levante.platform.runners.http import parse_body
from levante.platform.runners.local import interpreter, script_argv
from levante.platform.runners.remote import Host, parse_hosts, remote_command


def test_every_promised_runner_is_listed_in_st2_shape() -> None:
    names = {rt.name for rt in runner_types()}
    assert names == {"local-shell-cmd", "local-shell-script", "python-script", "http-request",
                     "noop", "remote-shell-cmd", "remote-shell-script", "mistral-v2",
                     "action-chain", "inquirer", "inject-trigger"}
    body = get_runner("local-shell-cmd").to_api()
    assert body["name"] == "local-shell-cmd" and body["enabled"] is True
    assert body["uid"] == "runner_type:local-shell-cmd"
    assert body["output_key"] == "stdout"
    assert set(body["runner_parameters"]) >= {"cmd", "cwd", "env", "sudo", "timeout",
                                              "kwarg_op", "sudo_password"}
    assert body["runner_parameters"]["sudo_password"]["secret"] is True


def test_aliases_and_unknown_runner() -> None:
    assert get_runner("levante-workflow").name == "mistral-v2"
    assert get_runner("run-local").name == "local-shell-cmd"
    assert "http-runner" in runner_names()
    with pytest.raises(UnknownRunner) as info:
        get_runner("teleport")
    assert "teleport" in str(info.value) and "cannot be found" in str(info.value)


def test_sudo_refusal_and_timeout_of() -> None:
    assert sudo_refusal("local-shell-cmd", {"sudo": True}, allow_sudo=False)
    assert sudo_refusal("local-shell-cmd", {"sudo": True}, allow_sudo=True) is None
    assert sudo_refusal("local-shell-cmd", {"sudo": False}, allow_sudo=False) is None
    assert timeout_of({"timeout": 5}, 600) == 5.0
    assert timeout_of({}, 600) == 600
    assert timeout_of({"timeout": 0}, None) is None


def _action(params: dict[str, dict[str, Any]]) -> ActionMeta:
    return ActionMeta(ref="p.a", pack="p", name="a", description="",
                      runner_type="local-shell-script", entry_point="/x.sh", enabled=True,
                      parameters=params)


def test_script_arguments_positional_then_named_runner_parameters_excluded() -> None:
    act = _action({"second": {"position": 1}, "first": {"position": 0}, "flag": {},
                   "data": {}, "empty": {}})
    request = RunRequest("e", act, {
        "first": "$(touch /tmp/x); rm -rf", "second": 2, "flag": True, "data": {"a": [1]},
        "empty": None, "timeout": 60, "sudo": False, "kwarg_op": "-", "env": {"A": "1"},
    })
    runner = get_runner("local-shell-script").runner_parameters
    assert script_argv(request, runner) == [
        "$(touch /tmp/x); rm -rf", "2", '-data={"a": [1]}', "-flag=true",
    ]


def test_interpreter_from_shebang_or_suffix(tmp_path: Path) -> None:
    sh = tmp_path / "a.sh"
    sh.write_text("#!/bin/sh -e\necho\n")
    assert interpreter(sh) == ["/bin/sh", "-e"]
    py = tmp_path / "b"
    py.write_text("#!/usr/bin/env python3\n")
    assert interpreter(py) == [sys.executable]
    bare = tmp_path / "c.py"
    bare.write_text("print(1)\n")
    assert interpreter(bare) == [sys.executable]
    plain = tmp_path / "d"
    plain.write_text("echo\n")
    assert interpreter(plain) == ["bash"]


def test_parse_hosts() -> None:
    assert parse_hosts("a, b:2222,[::1]:23,[fe80::1]", 2200) == [
        Host("a", "a", 2200), Host("b:2222", "b", 2222), Host("[::1]:23", "::1", 23),
        Host("[fe80::1]", "fe80::1", 2200),
    ]
    assert parse_hosts("h", None) == [Host("h", "h", 22)]
    for bad in ("", " , ", "h:x", "h:0", "[::1"):
        with pytest.raises(ValueError):
            parse_hosts(bad, None)


def test_remote_command_quotes_cwd_and_env_values() -> None:
    line = remote_command({"cmd": "echo $A", "cwd": "/my dir", "env": {"A": "x y;z"}})
    assert line == "cd '/my dir' && export A='x y;z' && echo $A"
    assert remote_command({"cmd": "id", "sudo": True}) == "sudo -n -E -- bash -c id"


def test_parse_body() -> None:
    assert parse_body('{"a": 1}', "application/json") == ({"a": 1}, True)
    assert parse_body("[1]", "text/plain") == ([1], True)
    assert parse_body("{oops", "application/json") == ("{oops", False)
    assert parse_body("hello", "text/html") == ("hello", False)
