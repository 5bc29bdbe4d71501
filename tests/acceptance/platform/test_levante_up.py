"""`levante up`: packs registered, a first API key in the data folder, found by the CLI."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import free_port, levante_bin


def _cpus_allowed(status: Path) -> str:
    for line in status.read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split()[-1]
    return ""


def test_up_writes_a_key_the_cli_finds(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    api_port, engine_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEVANTE_", "ST2_"))}
    env["LEVANTE_CORE_DATA_DIR"] = str(data_dir)
    # Pinning asked for (the default is off); its CPU locks in a folder of this test's own.
    env.update(LEVANTE_CORE_CPU_AFFINITY="auto", TMPDIR=str(tmp_path))
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen(
            [levante_bin("levante"), "up", "--api-port", str(api_port),
             "--engine-port", str(engine_port)],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert up.poll() is None, log.read_text()
            try:
                httpx.get(f"http://127.0.0.1:{api_port}/", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        key_file = data_dir / "api_key"
        assert key_file.is_file()
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        printed = log.read_text()
        assert "Registered" in printed and str(key_file) in printed
        run = subprocess.run(
            [levante_bin("levante"), "run", "core.local", "cmd=echo embedded", "-j"],
            capture_output=True, text=True, timeout=60,
            env={**env, "LEVANTE_API_URL": f"http://127.0.0.1:{api_port}"},
        )
        assert run.returncode == 0, run.stderr
        assert '"stdout": "embedded"' in run.stdout
        if len(os.sched_getaffinity(0)) >= 2:
            # [core] cpu_affinity = auto: every thread of the process keeps to one CPU...
            lists = {_cpus_allowed(status) for status in Path(f"/proc/{up.pid}/task").glob(
                "*/status")}
            assert len(lists) == 1 and lists.pop().isdigit(), lists
            # ...and the processes of actions may use every CPU
            run = subprocess.run(
                [levante_bin("levante"), "run", "core.local",
                 "cmd=grep Cpus_allowed_list /proc/self/status", "-j"],
                capture_output=True, text=True, timeout=60,
                env={**env, "LEVANTE_API_URL": f"http://127.0.0.1:{api_port}"},
            )
            assert run.returncode == 0, run.stderr
            child = json.loads(run.stdout)["result"]["stdout"].split()[-1]
            assert not child.isdigit(), child  # e.g. "0-1", not one CPU
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(20)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait(5)
    assert "Levante stopped." in log.read_text()
