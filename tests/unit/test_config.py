"""Configuration: defaults, file, environment, errors that say where, the sample in sync."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from levante.config import SECTIONS, ConfigError, load_config, render_sample
from tests.conftest import levante_bin

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "levante.conf"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_option_has_a_default_a_type_and_help() -> None:
    config = load_config(environ={})
    for section in SECTIONS:
        for option in section.options:
            assert option.help, option
            assert config.get(section.name, option.name) == option.default
    assert config.get_int("api", "port") == 9101
    assert config.get_int("engine", "port") == 8989
    assert config.get_float("resultstracker", "query_interval") == 5.0
    assert config.get_int("resultstracker", "thread_pool_size") == 10


def test_file_then_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path, "[api]\nport = 9200\n[log]\nlevel = DEBUG\n[content]\npacks_paths = /a, /b\n"
    )
    config = load_config(str(path), environ={"LEVANTE_API_PORT": "9300"})
    assert config.get_int("api", "port") == 9300
    assert config.get_str("log", "level") == "DEBUG"
    assert config.get_list("content", "packs_paths") == ["/a", "/b"]
    assert config.source == path


def test_config_dir_finds_levante_conf(tmp_path: Path) -> None:
    write(tmp_path, "[engine]\nworkers = 7\n")
    assert load_config(config_dir=str(tmp_path), environ={}).get_int("engine", "workers") == 7


def test_config_dir_without_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"has no levante\.conf"):
        load_config(config_dir=str(tmp_path), environ={})


def test_database_defaults_to_sqlite_in_data_dir(tmp_path: Path) -> None:
    config = load_config(environ={"LEVANTE_CORE_DATA_DIR": str(tmp_path)})
    assert config.database_url == f"sqlite:///{tmp_path / 'levante.sqlite'}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[nope]\nx = 1\n", r"unknown section \[nope\]"),
        ("[api]\nprot = 1\n", r"\[api\] unknown option 'prot'"),
        ("[api]\nport = abc\n", r"\[api\] port = 'abc' is not valid: expected an integer"),
        ("[api]\nport = -1\n", r"\[api\] port = '-1' is not valid: expected an integer of at"),
        ("[auth]\nenabled = maybe\n", r"\[auth\] enabled = 'maybe' is not valid: expected a bool"),
        ("[log]\nlevel = LOUD\n", r"\[log\] level = 'LOUD' is not valid: expected one of DEBUG"),
        ("[resultstracker]\nquery_interval = x\n", r"query_interval = 'x'.*expected a number"),
        ("not ini at all", r"cannot be read as INI"),
    ],
)
def test_bad_file_names_file_section_option_and_expectation(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=expected) as info:
        load_config(str(path), environ={})
    assert str(path) in str(info.value)


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"LEVANTE_ENGINE_WORKERS.*expected an integer"):
        load_config(environ={"LEVANTE_ENGINE_WORKERS": "many"})


def test_secret_values_are_masked_when_rendered() -> None:
    config = load_config(environ={"LEVANTE_NOTIFIER_SIGNING_SECRET": "s3cr3t-value"})
    assert "s3cr3t-value" not in config.render()
    assert "s3cr3t-value" in config.render(mask_secrets=False)


def test_sample_file_is_in_sync_with_declarations() -> None:
    sample = (ROOT / "etc" / "levante.conf.sample").read_text(encoding="utf-8")
    assert sample == render_sample(), "run `make sample` to regenerate etc/levante.conf.sample"


def test_sample_file_parses_to_defaults(tmp_path: Path) -> None:
    uncommented = "\n".join(
        line[1:] if line.startswith("#") and " = " in line and not line.startswith("# ") else line
        for line in render_sample().splitlines()
    )
    path = write(tmp_path, uncommented)
    config = load_config(str(path), environ={})
    assert config.get_int("api", "port") == 9101
    assert config.get_list("notifier", "webhooks") == []


def test_config_show_masks_secrets_and_names_the_source(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[database]\nconnection = postgresql://u:topsecret@db/levante\n[api]\nport = 9999\n",
    )
    proc = subprocess.run(
        [levante_bin("levante"), "config", "show", "--config-file", str(path)],
        capture_output=True, text=True, check=True,
    )
    assert "topsecret" not in proc.stdout
    assert "connection = ********" in proc.stdout
    assert "port = 9999" in proc.stdout
    assert str(path) in proc.stdout


def test_config_show_reports_bad_file_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "[api]\nport = x\n")
    proc = subprocess.run(
        [levante_bin("levante"), "--config-file", str(path), "config", "show"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "[api] port = 'x' is not valid: expected an integer" in proc.stderr
