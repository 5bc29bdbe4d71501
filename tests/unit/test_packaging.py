"""A quiet install: building Levante's metadata prints no warning of our own making."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_editable_install_prints_no_warning() -> None:
    # What `make run` does (pip install -e .), up to the point where the package's
    # metadata is built by setuptools in its own environment; nothing is installed.
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps",
         "--disable-pip-version-check", "-e", str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # (pip's own notes about this machine's index settings are not ours to silence)
    printed = "\n".join(line for line in (done.stdout + done.stderr).lower().splitlines()
                         if not re.match(r"warning: location '.*' is ignored", line))
    assert "would install levante" in printed
    assert "warning" not in printed and "deprecat" not in printed, printed


def test_license_is_an_spdx_expression() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'license = "Apache-2.0"' in text
    assert '"setuptools>=77"' in text  # the first setuptools that reads that form
