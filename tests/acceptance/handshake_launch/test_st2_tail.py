"""`st2 execution tail` and `levante execution tail` on a running action and a running
workflow, over the live event stream (/v1/stream), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.handshake_launch.conftest import System, running_system
from tests.acceptance.handshake_launch.test_st2_workflow import ANSI, ST2
from tests.conftest import levante_bin

pytestmark = pytest.mark.skipif(
    not ST2.exists(), reason="st2client is not installed: run `make clients`"
)

# Each action waits for its go file, so that the tail is listening before any output.
WAIT = "while [ ! -f {go} ]; do sleep 0.05; done; "
LINES = "for i in 1 2 3; do echo {word}$i; sleep 0.3; done"
TAIL_PACK = {
    "tw": {
        "pack.yaml": "name: tw\nversion: 0.1.0\ndescription: Tail tests.\n",
        "actions/slow.yaml": (
            "name: slow\nrunner_type: mistral-v2\nentry_point: workflows/slow.yaml\n"
            "parameters:\n  go: {type: string, required: true}\n"),
        "actions/workflows/slow.yaml": """---
version: '2.0'
tw.slow:
  input: [go]
  tasks:
    first:
      action: core.local
      input:
        cmd: <% 'while [ ! -f ' + $.go + ' ]; do sleep 0.05; done; ' +
          'for i in 1 2 3; do echo one$i; sleep 0.3; done' %>
      on-success: [second]
    second:
      action: core.local cmd="echo two"
""",
    },
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                                marks=pytest.mark.postgres)])
def system(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[System]:
    yield from running_system(request.param, tmp_path_factory, packs=TAIL_PACK)


OPENED = "event stream opened for"


def _streams_opened(system: System) -> int:
    return system.log_path("api").read_text(errors="replace").count(OPENED)


def _tail(system: System, command: str, execution_id: str) -> subprocess.Popen[str]:
    """The tail, started, once the API says it opened its stream."""
    before = _streams_opened(system)
    proc = _start_tail(system, command, execution_id)
    deadline = time.monotonic() + 60
    while _streams_opened(system) == before:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the tail did not open the event stream"
        time.sleep(0.05)
    return proc


def _start_tail(system: System, command: str, execution_id: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ST2_", "LEVANTE_"))}
    if command == "st2":
        env["ST2_API_KEY"] = system.key
        # st2client looks for the stream at <base>:9102 unless told; here the API's port.
        args = [str(ST2), "--api-url", f"{system.api}/v1", "--stream-url",
                f"{system.api}/v1", "execution", "tail", execution_id]
    else:
        env.update(LEVANTE_API_URL=system.api, LEVANTE_API_KEY=system.key)
        args = [levante_bin("levante"), "execution", "tail", execution_id]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def _finish(proc: subprocess.Popen[str], go: Path) -> tuple[str, str]:
    go.touch()  # the tail is listening (see _tail)
    out, err = proc.communicate(timeout=120)
    return ANSI.sub("", out), ANSI.sub("", err)


@pytest.mark.parametrize("command", ["st2", "levante"])
def test_tail_a_running_action(system: System, tmp_path: Path, command: str) -> None:
    go = tmp_path / "go"
    started = system.run("core.local", cmd=WAIT.format(go=go) + LINES.format(word="n"))
    proc = _tail(system, command, started["id"])
    out, err = _finish(proc, go)
    assert proc.returncode == 0, out + err
    assert "n1\nn2\nn3\n" in out
    if command == "st2":
        assert f"Execution {started['id']} has completed (status=succeeded)." in out
    else:
        assert out == "n1\nn2\nn3\n"
        assert "has ended: succeeded" in err


@pytest.mark.parametrize("command", ["st2", "levante"])
def test_tail_a_running_workflow(system: System, tmp_path: Path, command: str) -> None:
    go = tmp_path / "go"
    started = system.run("tw.slow", go=str(go))
    proc = _tail(system, command, started["id"])
    out, err = _finish(proc, go)
    assert proc.returncode == 0, out + err
    # The children's output, live, in order.
    assert out.index("one1") < out.index("one2") < out.index("one3") < out.index("two")
    if command == "st2":
        assert "Child execution (task=first)" in out and "has started." in out
        assert "has finished (status=succeeded)" in out
        assert f"Execution {started['id']} has completed (status=succeeded)." in out
    else:
        assert out == "one1\none2\none3\ntwo\n"
        assert "has ended: succeeded" in err
    assert system.wait(started["id"])["status"] == "succeeded"
