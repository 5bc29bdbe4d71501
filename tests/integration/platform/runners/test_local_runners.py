"""local-shell-cmd and local-shell-script with real processes."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import pytest

from levante.platform.runners import run_action

from .helpers import Output, alive, make_action, request, run, wait_dead

LOCAL = make_action("local-shell-cmd", {"cmd": {"type": "string", "required": True},
                                        "sudo": {"immutable": True}}, ref="core.local")


def test_command_result_and_output_streamed_in_order() -> None:
    out = Output()
    cmd = "for i in 1 2 3; do echo line$i; done; echo oops >&2; exit 4"
    outcome = run(run_action(request(LOCAL, {"cmd": cmd}), out))
    assert outcome.status == "failed"
    assert outcome.result == {"stdout": "line1\nline2\nline3", "stderr": "oops",
                              "return_code": 4, "succeeded": False, "failed": True}
    assert [t for s, t in out.chunks if s == "stdout"] == ["line1\n", "line2\n", "line3\n"]
    assert ("stderr", "oops\n") in out.chunks


def test_success_with_env_cwd_and_execution_variables(tmp_path: Path) -> None:
    req = request(LOCAL, {"cmd": 'echo "$GREETING $(pwd) $ST2_ACTION_EXECUTION_ID $EXTRA"',
                          "env": "GREETING=hi", "cwd": str(tmp_path)},
                  env_extra={"EXTRA": "x"})
    outcome = run(run_action(req, Output()))
    assert outcome.status == "succeeded"
    assert outcome.result["stdout"] == f"hi {tmp_path} exec-1 x"
    assert outcome.result["succeeded"] is True and outcome.result["return_code"] == 0


def test_platform_environment_is_not_leaked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVANTE_SECRET_DB_URL", "postgresql://u:pw@h/db")
    outcome = run(run_action(request(LOCAL, {"cmd": "env"}), Output()))
    assert "LEVANTE_SECRET_DB_URL" not in outcome.result["stdout"]
    assert "PATH=" in outcome.result["stdout"]


def test_missing_cwd_fails_clearly() -> None:
    outcome = run(run_action(request(LOCAL, {"cmd": "true", "cwd": "/no/such/dir"}), Output()))
    assert outcome.status == "failed" and "/no/such/dir" in outcome.result["error"]


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    cmd = f"sleep 30 & echo $! > {pidfile}; echo started; wait"
    started = time.monotonic()
    outcome = run(run_action(request(LOCAL, {"cmd": cmd}, timeout=0.5), Output()))
    assert time.monotonic() - started < 4
    assert outcome.status == "timeout"
    assert outcome.result["stdout"] == "started"
    assert outcome.result["return_code"] == -9 and outcome.result["failed"] is True
    assert "0.5 seconds" in outcome.result["error"]
    assert run(wait_dead(int(pidfile.read_text()))), "the background child survived"


def test_cancel_kills_the_process_group_and_reraises(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    cmd = f"sleep 30 & echo $! > {pidfile}; echo ready; wait"

    async def scenario() -> int:
        out = Output()
        task = asyncio.create_task(run_action(request(LOCAL, {"cmd": cmd}), out))
        await out.wait_for("ready")
        child = int(pidfile.read_text())
        assert alive(child)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return child

    child = run(scenario())
    assert run(wait_dead(child)), "cancel left the child running"


def test_children_left_behind_do_not_hold_the_run(tmp_path: Path) -> None:
    started = time.monotonic()
    outcome = run(run_action(request(LOCAL, {"cmd": "sleep 30 & echo done"}), Output()))
    assert outcome.status == "succeeded" and outcome.result["stdout"] == "done"
    assert time.monotonic() - started < 5


def test_sudo_refused_when_not_allowed() -> None:
    sudo_action = make_action("local-shell-cmd", {"cmd": {"type": "string", "required": True},
                                                  "sudo": {"default": True, "immutable": True}},
                              ref="core.local_sudo")
    outcome = run(run_action(request(sudo_action, {"cmd": "id"}), Output()))
    assert outcome.status == "failed"
    assert "allow_sudo" in outcome.result["error"]


def _script(tmp_path: Path) -> Path:
    script = tmp_path / "args.sh"
    script.write_text('#!/usr/bin/env bash\nfor a in "$@"; do printf "[%s]\\n" "$a"; done\n'
                      'echo "cwd=$(pwd)"\n')
    return script


def test_script_parameters_are_arguments_never_shell_text(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = f"$(touch {marker}); rm -rf"
    action = make_action("local-shell-script", {
        "first": {"type": "string", "position": 0},
        "second": {"type": "string", "position": 1},
        "word": {"type": "string"},
        "count": {"type": "integer"},
    }, entry_point=str(_script(tmp_path)))
    req = request(action, {"first": evil, "second": "a b", "word": "`id`", "count": "3"})
    outcome = run(run_action(req, Output()))
    assert outcome.status == "succeeded", outcome.result
    lines = outcome.result["stdout"].splitlines()
    assert lines[:4] == [f"[{evil}]", "[a b]", "[--count=3]", "[--word=`id`]"]
    assert lines[4] == f"cwd={tmp_path}"  # default cwd: the script's folder
    assert not marker.exists()


def test_script_missing_entry_point_fails() -> None:
    action = make_action("local-shell-script", entry_point="/no/such/script.sh")
    outcome = run(run_action(request(action, {}), Output()))
    assert outcome.status == "failed" and "does not exist" in outcome.result["error"]


def test_workflow_runner_without_its_configuration_fails_clearly() -> None:
    action = make_action("mistral-v2", ref="examples.wf")
    outcome = run(run_action(request(action, {}), Output()))
    assert outcome.status == "failed" and "could not be started" in outcome.result["error"]


def test_noop_succeeds() -> None:
    outcome = run(run_action(request(make_action("noop"), {}), Output()))
    assert outcome.status == "succeeded" and outcome.result["return_code"] == 0


def test_a_failing_output_callback_does_not_break_the_run() -> None:
    def broken(stream: str, text: str) -> None:
        raise RuntimeError("sink down")

    outcome = run(run_action(request(LOCAL, {"cmd": "echo a; echo b"}), broken))
    assert outcome.status == "succeeded" and outcome.result["stdout"] == "a\nb"


def test_long_lines_are_streamed_in_chunks() -> None:
    out = Output()
    outcome = run(run_action(request(LOCAL, {"cmd": "head -c 200000 /dev/zero | tr '\\0' x"}),
                             out))
    assert outcome.result["stdout"] == "x" * 200000
    assert len(out.chunks) >= 3 and out.text() == "x" * 200000


def test_script_with_missing_interpreter_fails_clearly(tmp_path: Path) -> None:
    script = tmp_path / "odd.sh"
    script.write_text("#!/no/such/interpreter\necho\n")
    action = make_action("local-shell-script", entry_point=str(script))
    outcome = run(run_action(request(action, {}), Output()))
    assert outcome.status == "failed"
    assert "Cannot start /no/such/interpreter" in outcome.result["error"]


def test_sudo_when_allowed_runs_the_command() -> None:
    sudo_action = make_action("local-shell-cmd", {"cmd": {"type": "string", "required": True},
                                                  "sudo": {"default": True, "immutable": True}},
                              ref="core.local_sudo")
    outcome = run(run_action(request(sudo_action, {"cmd": "id -u"}, allow_sudo=True),
                             Output()))
    if os.geteuid() == 0:
        assert outcome.status == "succeeded" and outcome.result["stdout"] == "0"
    elif shutil.which("sudo") is None:
        assert outcome.status == "failed" and "not installed" in outcome.result["error"]
    else:  # sudo -n without a password either works or says why; never hangs
        assert outcome.status in ("succeeded", "failed")


def test_nul_byte_in_an_argument_fails_clearly(tmp_path: Path) -> None:
    action = make_action("local-shell-script", {"word": {"type": "string"}},
                         entry_point=str(_script(tmp_path)))
    outcome = run(run_action(request(action, {"word": "a\x00b"}), Output()))
    assert outcome.status == "failed" and "null byte" in outcome.result["error"]
