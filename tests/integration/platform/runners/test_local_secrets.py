"""local-shell-script: secret parameters reach the script through its environment only.

A value on the command line is visible to every user of the host (``ps``,
``/proc/<pid>/cmdline``); the test reads the running script's own cmdline.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from levante.platform.core.packs import ActionMeta
from levante.platform.runners import RunOutcome, run_action

from .helpers import Output, make_action, request, run

TOKEN = "tok-5ecr3t-value"
PIN = "4242-pin-value"

SCRIPT = """\
#!/bin/bash
echo "pid $$"
# Wait until the test has read our command line (it removes the gate file).
for i in $(seq 100); do [ -e "$GATE" ] || break; sleep 0.05; done
echo "args: $*"
echo "token=$ST2_ACTION_SECRET_API_TOKEN pin=$ST2_ACTION_SECRET_PIN_CODE"
"""


def _action(tmp_path: Path) -> ActionMeta:
    script = tmp_path / "secret.sh"
    script.write_text(SCRIPT)
    return make_action("local-shell-script", {
        "user": {"type": "string", "position": 0},
        "pin-code": {"type": "string", "position": 1, "secret": True},
        "region": {"type": "string", "position": 2},
        "api_token": {"type": "string", "secret": True},
        "verbose": {"type": "boolean"},
    }, entry_point=str(script))


def test_secret_parameters_are_not_on_the_command_line(tmp_path: Path) -> None:
    action = _action(tmp_path)
    gate = tmp_path / "gate"
    gate.write_text("")
    cmdlines: list[str] = []

    async def scenario() -> RunOutcome:
        out = Output()
        req = request(action, {"user": "ops", "pin-code": PIN, "region": "eu",
                               "api_token": TOKEN, "verbose": True},
                      env_extra={"GATE": str(gate)})
        task = asyncio.create_task(run_action(req, out))
        await out.wait_for("pid ")
        pid = int(out.text().split("pid ", 1)[1].split()[0])
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        cmdlines.append(raw.replace(b"\0", b" ").decode())
        gate.unlink()
        return await task

    outcome = run(scenario())
    assert outcome.status == "succeeded", outcome.result
    (cmdline,) = cmdlines
    assert "secret.sh" in cmdline and "ops" in cmdline and "--verbose=true" in cmdline
    assert TOKEN not in cmdline and PIN not in cmdline
    lines = outcome.result["stdout"].splitlines()
    # The secret positional keeps its place with an empty argument: region stays third.
    assert lines[1] == "args: ops  eu --verbose=true"
    assert lines[2] == f"token={TOKEN} pin={PIN}"
