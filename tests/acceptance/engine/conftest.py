"""A running engine for the real `mistral` CLI (python-mistralclient in its own venv).

The engine is `levante serve engine` in a subprocess once `levante.engine.service`
exists, authenticated (`[engine] auth`, the default); the CLI authenticates as users do,
through the engine's Keystone v3 endpoint: `mistral --os-mistral-url <engine>/v2
--os-auth-url <engine>/identity/v3 --os-auth-token <API key> ...`. Before the engine
service existed, the API alone (uvicorn in a thread) served the definition-side commands.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from levante.db import manage
from levante.db.connect import make_engine
from levante.identity.keys import create_api_key
from tests.conftest import free_port, levante_bin

ROOT = Path(__file__).resolve().parents[3]
MISTRAL = ROOT / ".venv-clients" / "mistral" / "bin" / "mistral"


def has_engine_service() -> bool:
    try:
        return importlib.util.find_spec("levante.engine.service") is not None
    except ModuleNotFoundError:
        return False


def has_runtime() -> bool:
    try:
        return importlib.util.find_spec("levante.engine.core.runtime") is not None
    except ModuleNotFoundError:
        return False


@dataclass
class Mistral:
    """Runs the mistral CLI against one engine; `json_out` parses `-f json` output."""

    url: str
    home: Path
    key: str | None = None  # an API key: the CLI then authenticates through Keystone v3

    def auth_args(self) -> list[str]:
        if not self.key:
            return []
        base = self.url.rsplit("/v2", 1)[0]
        return ["--os-auth-url", f"{base}/identity/v3", "--os-auth-token", self.key]

    def run(self, *args: str, check: bool = True,
            auth: bool = True) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home),
               "LANG": "C.UTF-8"}
        done = subprocess.run(
            [str(MISTRAL), "--os-mistral-url", self.url,
             *(self.auth_args() if auth else []), *args],
            capture_output=True, text=True, env=env, timeout=60,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"mistral {' '.join(args)} exited {done.returncode}:\n"
                f"{done.stdout}\n{done.stderr}"
            )
        return done

    def json_out(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-f", "json").stdout)


def _wait_http(url: str, proc: subprocess.Popen[bytes] | None, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the engine exited early:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the engine did not answer on {url}:\n{log.read_text()}")


@pytest.fixture(scope="module")
def mistral(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mistral]:
    if not MISTRAL.exists():
        pytest.skip(f"python-mistralclient is not installed in {MISTRAL.parent.parent} "
                    "(run `make clients`)")
    tmp = tmp_path_factory.mktemp("engine")
    url = f"sqlite:///{tmp / 'levante.sqlite'}"
    manage.upgrade(url, "head")
    db = make_engine(url)
    try:
        key, _row = create_api_key(db, "cli-user")
    finally:
        db.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp / "engine.log"
    if has_engine_service():
        config = tmp / "levante.conf"
        config.write_text(
            f"[core]\ndata_dir = {tmp}\n[database]\nconnection = {url}\n"
            f"[engine]\nhost = 127.0.0.1\nport = {port}\npoll_interval = 0.2\n"
            f"[notifier]\nenabled = false\n"
        )
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [levante_bin("levante"), "serve", "engine", "--config-file", str(config)],
                stdout=out, stderr=subprocess.STDOUT,
            )
        try:
            _wait_http(base + "/v2", proc, log)
            yield Mistral(base + "/v2", tmp, key)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return
    from tests.integration.engine.api.conftest import serve

    engine = make_engine(url)
    try:
        for served in serve(engine):
            yield Mistral(served + "/v2", tmp)
    finally:
        engine.dispose()
