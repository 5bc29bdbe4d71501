"""A running engine for the real `mistral` CLI (python-mistralclient in its own venv).

The engine is `levante serve engine` in a subprocess (tests/harness.py), authenticated
(`[engine] auth`, the default); the CLI authenticates as users do, through the engine's
Keystone v3 endpoint: `mistral --os-mistral-url <engine>/v2 --os-auth-url
<engine>/identity/v3 --os-auth-token <API key> ...`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from levante.db.connect import make_engine
from levante.identity.keys import create_api_key
from tests.harness import Sections, System, merged, start_system

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


def start_engine(tmp: Path, kind: str, user: str,
                 options: Sections | None = None) -> System:
    """`levante serve engine` alone (the notifier off) on a new `kind` database, through
    the harness; `System.key` is an API key of `user` (the engine API is authenticated,
    and the CLI authenticates through its Keystone v3 endpoint)."""
    found = start_system(tmp, kind, ("engine",), register_packs=False, options=merged(
        {"engine": {"host": "127.0.0.1"}, "notifier": {"enabled": "false"}}, options))
    try:
        db = make_engine(found.engine_db)
        try:
            found.key, _row = create_api_key(db, user)
        finally:
            db.dispose()
    except BaseException:
        found.close()
        raise
    return found


@pytest.fixture(scope="module")
def mistral(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mistral]:
    if not MISTRAL.exists():
        pytest.skip(f"python-mistralclient is not installed in {MISTRAL.parent.parent} "
                    "(run `make clients`)")
    tmp = tmp_path_factory.mktemp("engine")
    engine = start_engine(tmp, "sqlite", "cli-user")
    try:
        yield Mistral(engine.engine + "/v2", tmp, engine.key)
    finally:
        engine.close()
