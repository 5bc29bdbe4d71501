"""The sensor wrapper process on its own, driven over its pipe as a container drives it: a
sensor whose container stops renewing the lease (a hung or paused container) or goes away
(its pipe closes) stops itself, its cleanup called, so that it never runs beside the copy
another container starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from levante.platform.sensors.process import SHIM_DIR, WRAPPER

SENSOR = '''
import time
from st2reactor.sensor.base import Sensor

class Idle(Sensor):
    def run(self):
        print("running", flush=True)
        while True:
            time.sleep(0.05)

    def cleanup(self):
        print("cleaned up", flush=True)
'''


def _start(tmp_path: Path, hold: float) -> subprocess.Popen[str]:
    source = tmp_path / "idle.py"
    source.write_text(SENSOR)
    env = {**os.environ, "PYTHONPATH": str(SHIM_DIR), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-P", str(WRAPPER), "t.Idle"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({"op": "start", "ref": "t.Idle", "file": str(source),
                                 "class_name": "Idle", "poll_interval": None, "config": {},
                                 "triggers": [], "log_level": "INFO", "hold": hold,
                                 "stop_timeout": 2}) + "\n")
    proc.stdin.flush()
    return proc


@pytest.mark.parametrize(("hold", "close", "reason"), [
    (0.5, False, "did not renew the lease in time"),
    (30, True, "went away"),
])
def test_the_sensor_stops_itself(tmp_path: Path, hold: float, close: bool,
                                 reason: str) -> None:
    proc = _start(tmp_path, hold)
    assert proc.stderr is not None and proc.stdin is not None
    assert proc.stderr.readline().strip().endswith("Running sensor initialization code")
    if close:
        proc.stdin.close()
    code = proc.wait(timeout=30)
    errors = proc.stderr.read()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None and not pipe.closed:
            pipe.close()
    assert code == 3, errors
    assert "running" in errors and "cleaned up" in errors
    assert reason in errors
