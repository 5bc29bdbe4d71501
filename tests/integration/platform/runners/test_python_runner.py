"""python-script: a pack's Action class run in a subprocess."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from levante.platform.core.packs import BUNDLED_PACKS_DIR, ActionMeta, load_pack
from levante.platform.runners import run_action

from .helpers import Output, alive, make_action, request, run, wait_dead

MODULE = '''
import os
import sys
from levante.platform.runners.python_action import Action


class Compute(Action):
    def run(self, x, mode="ok", pidfile=""):
        print("working on", x)
        print("to stderr", file=sys.stderr)
        self.logger.info("logged")
        if mode == "fail":
            return (False, {"why": "asked to fail", "x": x})
        if mode == "tuple":
            return (True, [x, self.config.get("region")])
        if mode == "raise":
            raise RuntimeError("boom " + str(x))
        if mode == "sleep":
            with open(pidfile, "w") as fh:
                fh.write(str(os.getpid()))
            print("sleeping", flush=True)
            import time
            time.sleep(30)
        if mode == "exit":
            sys.exit(3)
        return {"double": x * 2, "config": self.config}
'''


def _pack(tmp_path: Path, module: str = MODULE) -> Path:
    pack = tmp_path / "pyp"
    (pack / "actions").mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: pyp\nversion: 1.0.0\n")
    (pack / "config.yaml").write_text("region: eu\n")
    (pack / "config.schema.yaml").write_text(
        "region: {type: string, default: us}\nzone: {type: string, default: z1}\n")
    (pack / "actions" / "compute.py").write_text(module)
    return pack


def _action(pack: Path) -> ActionMeta:
    return make_action("python-script", {
        "x": {"type": "integer", "required": True},
        "mode": {"type": "string", "default": "ok"},
        "pidfile": {"type": "string", "default": ""},
    }, entry_point=str(pack / "actions" / "compute.py"), ref="pyp.compute")


def test_return_value_is_the_result_and_output_streams(tmp_path: Path) -> None:
    pack = _pack(tmp_path)
    out = Output()
    outcome = run(run_action(request(_action(pack), {"x": "21"}, pack_path=pack), out))
    assert outcome.status == "succeeded", outcome.result
    assert outcome.result["result"] == {"double": 42,
                                        "config": {"region": "eu", "zone": "z1"}}
    assert outcome.result["stdout"] == "working on 21"
    assert "to stderr" in outcome.result["stderr"] and "logged" in outcome.result["stderr"]
    assert outcome.result["exit_code"] == 0
    assert ("stdout", "working on 21\n") in out.chunks


@pytest.mark.parametrize(("mode", "status", "value", "code"), [
    ("fail", "failed", {"why": "asked to fail", "x": 1}, 1),
    ("tuple", "succeeded", [1, "eu"], 0),
])
def test_ok_value_tuples_are_honoured(tmp_path: Path, mode: str, status: str,
                                      value: object, code: int) -> None:
    pack = _pack(tmp_path)
    req = request(_action(pack), {"x": 1, "mode": mode}, pack_path=pack)
    outcome = run(run_action(req, Output()))
    assert (outcome.status, outcome.result["result"], outcome.result["exit_code"]) == (
        status, value, code)


def test_exception_fails_with_traceback(tmp_path: Path) -> None:
    pack = _pack(tmp_path)
    req = request(_action(pack), {"x": 5, "mode": "raise"}, pack_path=pack)
    outcome = run(run_action(req, Output()))
    assert outcome.status == "failed"
    assert outcome.result["result"] is None and outcome.result["exit_code"] == 1
    assert "RuntimeError: boom 5" in outcome.result["stderr"]


def test_sys_exit_fails(tmp_path: Path) -> None:
    pack = _pack(tmp_path)
    req = request(_action(pack), {"x": 5, "mode": "exit"}, pack_path=pack)
    outcome = run(run_action(req, Output()))
    assert outcome.status == "failed" and outcome.result["exit_code"] == 3


def test_timeout_kills_the_action(tmp_path: Path) -> None:
    pack = _pack(tmp_path)
    pidfile = tmp_path / "pid"
    req = request(_action(pack), {"x": 1, "mode": "sleep", "pidfile": str(pidfile)},
                  timeout=1.0, pack_path=pack)
    started = time.monotonic()
    outcome = run(run_action(req, Output()))
    assert time.monotonic() - started < 5
    assert outcome.status == "timeout" and outcome.result["exit_code"] == -9
    assert not alive(int(pidfile.read_text()))


def test_cancel_kills_the_action(tmp_path: Path) -> None:
    pack = _pack(tmp_path)
    pidfile = tmp_path / "pid"
    req = request(_action(pack), {"x": 1, "mode": "sleep", "pidfile": str(pidfile)},
                  pack_path=pack)

    async def scenario() -> None:
        out = Output()
        task = asyncio.create_task(run_action(req, out))
        await out.wait_for("sleeping")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await wait_dead(int(pidfile.read_text()))

    run(scenario())


def test_stackstorm_style_import_and_no_action_class(tmp_path: Path) -> None:
    st2_module = ("from st2common.runners.base_action import Action\n\n"
                  "class Hello(Action):\n    def run(self, x, **_):\n        return x + 1\n")
    pack = _pack(tmp_path, st2_module)
    req = request(_action(pack), {"x": 1}, pack_path=pack)
    assert run(run_action(req, Output())).result["result"] == 2

    (pack / "actions" / "compute.py").write_text("X = 1\n")
    outcome = run(run_action(req, Output()))
    assert outcome.status == "failed" and "no Action subclass" in outcome.result["stderr"]


def test_bundled_example_action() -> None:
    _, actions, _ = load_pack(BUNDLED_PACKS_DIR / "examples")
    stats = next(a for a in actions if a.ref == "examples.python_stats")
    outcome = run(run_action(request(stats, {"numbers": "1,2,6"}), Output()))
    assert outcome.status == "succeeded", outcome.result
    assert outcome.result["result"]["median"] == 2.0
    failed = run(run_action(request(stats, {"numbers": []}), Output()))
    assert failed.status == "failed" and failed.result["result"] == "no numbers given"


def test_large_parameters_and_result(tmp_path: Path) -> None:
    module = ("from levante.platform.runners.python_action import Action\n\n"
              "class Big(Action):\n    def run(self, blob):\n        return blob[::-1]\n")
    pack = _pack(tmp_path, module)
    action = make_action("python-script", {"blob": {"type": "string"}},
                         entry_point=str(pack / "actions" / "compute.py"))
    blob = "ab" * 300_000
    outcome = run(run_action(request(action, {"blob": blob}, pack_path=pack), Output()))
    assert outcome.status == "succeeded" and outcome.result["result"] == blob[::-1]
