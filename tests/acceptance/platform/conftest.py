"""A running platform: `levante serve api` and `levante serve runner` as subprocesses
(tests/harness.py), on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import Sections, System, clean_environ, levante_bin, merged
from tests.integration.platform.service.conftest import write_test_pack

ROOT = Path(__file__).resolve().parents[3]
RUNNER = {"runner": {"poll_interval": 0.05, "workers": 4}}


class Platform(System):
    """The API and a runner of one platform; the CLI reads its config folder (and so the
    key file of its data folder), as an operator's would."""

    @property
    def url(self) -> str:  # http://127.0.0.1:PORT
        return self.api

    @property
    def config_dir(self) -> Path:
        return self.tmp

    @property
    def data_dir(self) -> Path:
        return self.tmp / "data"

    @property
    def database_url(self) -> str:
        return self.platform_db

    @property
    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        return self.procs

    def levante(self, *args: str, key: bool = True,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = clean_environ(LEVANTE_API_URL=self.url)
        if not key:
            env["LEVANTE_API_KEY"] = "not-a-key"
        return subprocess.run(
            [levante_bin("levante"), "--config-dir", str(self.config_dir), *args],
            capture_output=True, text=True, env=env, timeout=timeout,
        )


def start_platform(tmp_path: Path, database_url: str, more_packs: str = "",
                   configs_path: Path | None = None, *, packs_root: Path | None = None,
                   options: Sections | None = None) -> Platform:
    """API and runner on `database_url` (empty), config `<tmp_path>/levante.conf`, data
    folder `<tmp_path>/data` (the processes' output there too, `<role>.log`); the packs
    of `packs_root` (default: the test pack) and `more_packs` (", path, ...") registered.
    `options` add to or replace the config's values."""
    packs_root = packs_root or write_test_pack(tmp_path / "packs")
    content: dict[str, Any] = {"packs_paths": f"{packs_root}{more_packs}"}
    if configs_path:
        content["configs_path"] = configs_path
    (tmp_path / "data").mkdir(parents=True, exist_ok=True)
    kind = "sqlite" if database_url.startswith("sqlite") else "postgres"
    # (The test pack holds files that must fail to register: strict_packs=False.)
    return Platform.create(tmp_path, kind, ("api", "runner"), databases=[database_url],
                           strict_packs=False,
                           options=merged(RUNNER, {"content": content}, options),
                           clean_env=True, cwd=tmp_path / "data", logs=tmp_path / "data",
                           log_suffix=".log")


@pytest.fixture
def platform(tmp_path: Path, database_url: str) -> Iterator[Platform]:
    """The platform on SQLite and on PostgreSQL."""
    running = start_platform(tmp_path, database_url)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def sqlite_platform(tmp_path: Path, sqlite_url: str) -> Iterator[Platform]:
    running = start_platform(tmp_path, sqlite_url)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def shared_sqlite_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """One platform on SQLite for the tests of a module that only read what they made
    (a system start is the dearest part of an acceptance test)."""
    tmp = tmp_path_factory.mktemp("platform")
    running = start_platform(tmp, f"sqlite:///{tmp / 'levante.sqlite'}")
    try:
        yield running
    finally:
        running.close()
