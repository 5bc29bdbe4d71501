"""remote-shell-cmd: every declared parameter does something (parallel, cwd, env names).

Against the asyncssh server on loopback of test_remote_runner, which runs the command
with bash on this machine, so the hosts' effects are visible in a local folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from levante.platform.core.parameters import ParameterError
from levante.platform.runners import RunOutcome, get_runner, run_action

from .helpers import Output, request
from .test_remote_runner import PASSWORD, USER, core_remote, with_server


def _two_hosts(port: int) -> str:
    return f"127.0.0.1:{port},localhost:{port}"


def test_hosts_run_one_after_another_unless_parallel(tmp_path: Path) -> None:
    log = tmp_path / "log"
    cmd = f"echo start >> {log}; sleep 0.3; echo end >> {log}"

    async def scenario(port: int) -> RunOutcome:
        req = request(core_remote(), {"hosts": _two_hosts(port), "username": USER,
                                      "password": PASSWORD, "cmd": cmd})
        assert req.parameters["parallel"] is False
        return await run_action(req, Output())

    outcome = with_server(scenario)
    assert outcome.status == "succeeded", outcome.result
    assert log.read_text().split() == ["start", "end", "start", "end"]


def test_parallel_true_runs_the_hosts_at_the_same_time(tmp_path: Path) -> None:
    # Each host waits (at most 4 s) until both have started: only true when they overlap.
    folder = tmp_path / "it's a dir"
    folder.mkdir()
    cmd = ("echo x >> started; for i in $(seq 80); do "
           "[ \"$(wc -l < started)\" -ge 2 ] && break; sleep 0.05; done; "
           "echo \"$(wc -l < started) in $(pwd)\"")

    async def scenario(port: int) -> RunOutcome:
        req = request(core_remote(), {"hosts": _two_hosts(port), "username": USER,
                                      "password": PASSWORD, "cmd": cmd, "parallel": True,
                                      "cwd": str(folder)})
        return await run_action(req, Output())

    outcome = with_server(scenario)
    assert outcome.status == "succeeded", outcome.result
    for entry in outcome.result.values():
        assert entry["stdout"] == f"2 in {folder}"


def test_env_name_that_cannot_be_exported_is_refused_naming_it(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    async def scenario(port: int) -> RunOutcome:
        req = request(core_remote(), {"hosts": f"127.0.0.1:{port}", "username": USER,
                                      "password": PASSWORD, "cmd": f"touch {marker}",
                                      "env": {"GOOD": "1", "BAD-NAME": "x"}})
        return await run_action(req, Output())

    outcome = with_server(scenario)
    assert outcome.status == "failed"
    assert "'BAD-NAME'" in outcome.result["error"]
    assert "environment variable name" in outcome.result["error"]
    assert not marker.exists()


@pytest.mark.parametrize("name", ["dir", "kwarg_op"])
def test_parameters_a_command_cannot_use_are_not_offered(name: str) -> None:
    assert name not in get_runner("remote-shell-cmd").runner_parameters
    with pytest.raises(ParameterError) as info:
        request(core_remote(), {"hosts": "h", "cmd": "true", name: "x"})
    assert info.value.parameter == name and "not allowed" in info.value.message
