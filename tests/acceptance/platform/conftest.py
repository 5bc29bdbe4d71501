"""A running platform: `levante serve api` and `levante serve runner` as subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from levante.config import load_config
from levante.db.connect import make_engine
from levante.platform.core.pack_registry import register_packs
from levante.platform.service import ensure_api_key
from tests.conftest import free_port, levante_bin
from tests.integration.platform.service.conftest import write_test_pack

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Platform:
    config_dir: Path
    data_dir: Path
    url: str  # http://127.0.0.1:PORT
    key: str
    database_url: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("LEVANTE_", "ST2_"))}
        env.update(extra)
        return env

    def start(self, role: str) -> subprocess.Popen[bytes]:
        log = open(self.data_dir / f"{role}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [levante_bin("levante"), "--config-dir", str(self.config_dir), "serve", role],
            stdout=log, stderr=subprocess.STDOUT, env=self.env(), cwd=self.data_dir,
        )
        log.close()
        self.processes[role] = proc
        return proc

    def stop(self, role: str, sig: int = signal.SIGTERM) -> None:
        proc = self.processes.pop(role, None)
        if proc is None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def levante(self, *args: str, key: bool = True,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = self.env(LEVANTE_API_URL=self.url)
        if not key:
            env["LEVANTE_API_KEY"] = "not-a-key"
        return subprocess.run(
            [levante_bin("levante"), "--config-dir", str(self.config_dir), *args],
            capture_output=True, text=True, env=env, timeout=timeout,
        )

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url + "/v1", headers={"St2-Api-Key": self.key},
                            timeout=10)


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the API process exited with {proc.returncode}")
        try:
            httpx.get(url + "/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def start_platform(tmp_path: Path, database_url: str, more_packs: str = "",
                   configs_path: Path | None = None) -> Platform:
    from levante.db import manage

    manage.upgrade(database_url, "head")
    port = free_port()
    config_dir = tmp_path / "etc"
    data_dir = tmp_path / "data"
    config_dir.mkdir()
    data_dir.mkdir()
    packs_root = write_test_pack(tmp_path / "packs")
    (config_dir / "levante.conf").write_text(
        f"[core]\ndata_dir = {data_dir}\n"
        f"[database]\nconnection = {database_url}\n"
        f"[api]\nport = {port}\n"
        f"[content]\npacks_paths = {packs_root}{more_packs}\n"
        + (f"configs_path = {configs_path}\n" if configs_path else "") +
        "[runner]\npoll_interval = 0.05\nworkers = 4\n",
        encoding="utf-8",
    )
    config = load_config(config_dir=str(config_dir), environ={})
    engine = make_engine(database_url)
    try:
        register_packs(engine, config.get_list("content", "packs_paths"))
        key, _ = ensure_api_key(config, engine)
    finally:
        engine.dispose()
    platform = Platform(config_dir, data_dir, f"http://127.0.0.1:{port}", key, database_url)
    api = platform.start("api")
    platform.start("runner")
    wait_up(platform.url, api)
    return platform


@pytest.fixture
def platform(tmp_path: Path, database_url: str) -> Iterator[Platform]:
    """The platform on SQLite and on PostgreSQL."""
    running = start_platform(tmp_path, database_url)
    try:
        yield running
    finally:
        for role in list(running.processes):
            running.stop(role)


@pytest.fixture
def sqlite_platform(tmp_path: Path, sqlite_url: str) -> Iterator[Platform]:
    running = start_platform(tmp_path, sqlite_url)
    try:
        yield running
    finally:
        for role in list(running.processes):
            running.stop(role)
