"""What `levante up` prints about using the CLI from another terminal."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from levante.cli.serve import cli_hint
from levante.config import load_config
from levante.platform.core import example_run


def test_defaults_need_only_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # (no levante.conf here)
    lines = cli_hint(load_config(environ={}), None, None)
    assert lines[0].startswith("Use the CLI from another terminal")
    assert lines[1:] == [f'  export PATH={Path(sys.executable).parent}:"$PATH"',
                         "  levante execution list"]


def test_what_a_new_shell_would_not_know_is_exported(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={}).with_overrides({("core", "data_dir"): str(tmp_path / "d d"),
                                                     ("api", "port"): 9333})
    lines = cli_hint(config, None, None)
    assert f"  export LEVANTE_CORE_DATA_DIR='{tmp_path}/d d' " \
           "LEVANTE_API_URL=http://127.0.0.1:9333" in lines
    # a configuration file named on the command line is unknown to a new shell too
    conf = tmp_path / "levante.conf"
    conf.write_text("[api]\nport = 9101\n", encoding="utf-8")
    named = cli_hint(load_config(str(conf), environ={}), str(conf), None)
    assert any(line.startswith("  export LEVANTE_CORE_DATA_DIR=") for line in named)


def test_example_marker(tmp_path: Path) -> None:
    config = load_config(environ={}).with_overrides({("core", "data_dir"): str(tmp_path)})
    assert example_run.first_start(config)
    example_run._mark(config, "0123456789abcdef01234567")
    assert not example_run.first_start(config)
    assert "(execution 0123456789abcdef01234567)" in example_run.not_again_line(config)
