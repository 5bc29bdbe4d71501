"""Each module of the package imports on its own, first in a fresh interpreter (the runner
catalog and the inquirer runner must not import each other in a circle)."""

from __future__ import annotations

import subprocess
import sys

import pytest

MODULES = ("runner", "service", "api", "cli", "workflows", "store", "tables", "answers")


@pytest.mark.parametrize("name", MODULES)
def test_module_imports_first(name: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import levante.platform.inquiries.{name}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
