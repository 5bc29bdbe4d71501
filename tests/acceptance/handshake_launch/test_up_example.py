"""`levante up` (what `make run` runs) ends in a running system that has run the bundled
example workflow and printed its execution, tasks and both API URLs; Ctrl-C stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import free_port, levante_bin


def test_up_runs_and_prints_the_example_workflow(tmp_path: Path) -> None:
    api_port, engine_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEVANTE_", "ST2_"))}
    out = tmp_path / "up.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [levante_bin("levante"), "up", "--data-dir", str(tmp_path / "data"),
             "--api-port", str(api_port), "--engine-port", str(engine_port)],
            stdout=sink, stderr=subprocess.DEVNULL, env={**env, "PYTHONUNBUFFERED": "1"},
            cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            text = out.read_text()
            _, seen, after = text.partition("Example workflow")
            if seen and "Engine API (Mistral v2)" in after:
                break
            assert proc.poll() is None, text
            assert time.monotonic() < deadline, text
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert proc.returncode == 0
    example = text.split("Example workflow", 1)[1]
    assert example.startswith(" examples.hello_chain: execution ")
    assert " succeeded in " in example.splitlines()[0]
    for task in ("greet", "echo_items", "many"):
        assert f"    {task} " in example
    assert "child executions: 5 (core.echo, core.noop)" in example
    assert '"greeting": "Hello, Levante!"' in example
    assert f"Platform API (StackStorm v1): http://127.0.0.1:{api_port}/v1" in example
    assert f"Web UI: http://127.0.0.1:{api_port}/ui/" in example
    assert f"Engine API (Mistral v2): http://127.0.0.1:{engine_port}/v2" in example
    assert out.read_text().rstrip().endswith("Levante stopped.")
