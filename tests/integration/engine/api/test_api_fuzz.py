"""Schemathesis against the served OpenAPI description: no input makes the API answer 5xx."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.engine.api.conftest import Api

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_no_server_error(api: Api, tmp_path: Path) -> None:
    binary = str(SCHEMATHESIS) if SCHEMATHESIS.exists() else shutil.which("schemathesis")
    if binary is None:
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    done = subprocess.run(
        [binary, "run", f"{api.url}/v2/openapi.json", "--checks", "not_a_server_error",
         "--phases", "examples,fuzzing", "--max-examples", "8", "--workers", "2",
         "--generation-database", "none", "--seed", "1", "--no-color",
         "-H", f"X-Auth-Token: {api.key}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "passed" in done.stdout
