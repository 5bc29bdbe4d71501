"""Engine processes (`levante serve engine`) started for a test, with their own config."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import free_port, levante_bin


class EngineProcess:
    def __init__(self, url: str, folder: Path, name: str = "engine") -> None:
        self.port = free_port()
        self.config = folder / f"{name}.conf"
        self.log = folder / f"{name}.log"
        self.config.write_text(
            "[database]\n"
            f"connection = {url}\n"
            "[engine]\n"
            f"port = {self.port}\n"
            "poll_interval = 0.2\n"
            "workers = 8\n"
            "[log]\n"
            "level = WARNING\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> EngineProcess:
        env = dict(os.environ)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [levante_bin("levante"), "serve", "engine", "--config-file", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT, env=env,
            )
        deadline = time.monotonic() + 60  # a loaded machine starts Python slowly
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/v2/executions?limit=1", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        # Never leave it running: the caller has no handle to stop it yet.
        self.proc.kill()
        self.proc.wait(10)
        raise AssertionError(f"engine did not start: {self.log.read_text()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
