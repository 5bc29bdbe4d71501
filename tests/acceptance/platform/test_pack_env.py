"""Pack environments and StackStorm's action environment, through `levante pack` and the
real `st2` CLI: a pack with a requirements.txt installed offline from a wheel the test makes,
its Python action importing `st2common` and its libs in its own virtualenv, with
ST2_ACTION_* variables and a token valid only while it runs; core.uuid; a pack installed
from a local git repository."""

from __future__ import annotations

import json
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from levante.config import load_config
from levante.db.connect import make_engine
from levante.platform.core.pack_registry import register_packs
from levante.platform.service import ensure_api_key
from tests.acceptance.platform.conftest import Platform, wait_up
from tests.acceptance.platform.test_st2_cli import ST2, st2
from tests.conftest import free_port

pytestmark = pytest.mark.skipif(
    not ST2.exists(), reason="st2client is not installed: run `make clients`"
)

PROBE = '''
import importlib.util
import os
import sys
import urllib.request

from st2common.runners.base_action import Action

import common
import helper
import levtiny


class Probe(Action):
    def run(self, token_file):
        self.logger.info("probe logs to stderr")
        token = os.environ["ST2_ACTION_AUTH_TOKEN"]
        url = (os.environ["ST2_ACTION_API_URL"] + "/executions/"
               + os.environ["ST2_ACTION_EXECUTION_ID"])
        request = urllib.request.Request(url, headers={"X-Auth-Token": token})
        with urllib.request.urlopen(request) as answer:
            seen = answer.status
        with open(token_file, "w") as out:
            out.write(token)
        try:
            self.action_service.get_value("k")
            datastore = "answered"
        except Exception as exc:
            datastore = str(exc)
        return {"tiny": levtiny.VALUE, "helper": helper.NAME, "common": common.NAME,
                "pack": os.environ["ST2_ACTION_PACK_NAME"], "api_status": seen,
                "prefix": sys.prefix, "config": self.config, "datastore": datastore,
                "levante_visible": importlib.util.find_spec("levante") is not None}
'''

ENV_PACK = {
    "pack.yaml": "name: envpack\nversion: 1.0.0\n",
    "requirements.txt": "levtiny==1.0\n",
    "lib/common.py": "NAME = 'pack lib'\n",
    "actions/lib/helper.py": "NAME = 'actions lib'\n",
    "actions/probe.py": PROBE,
    "actions/probe.yaml": (
        "name: probe\nrunner_type: python-script\nentry_point: probe.py\n"
        "parameters:\n  token_file: {type: string, required: true}\n"
        "notify:\n  on-failure:\n    message: probe failed\n    routes: [ops]\n"),
}


def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the wheel of a tiny package, levtiny 1.0 (an offline index)."""
    folder = tmp_path_factory.mktemp("wheels")
    info = "levtiny-1.0.dist-info"
    files = {
        "levtiny/__init__.py": "VALUE = 'levtiny 1.0'\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: levtiny\nVersion: 1.0\n",
        f"{info}/WHEEL": ("Wheel-Version: 1.0\nGenerator: levante-tests\n"
                          "Root-Is-Purelib: true\nTag: py3-none-any\n"),
    }
    record = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(folder / "levtiny-1.0-py3-none-any.whl", "w") as whl:
        for name, text in {**files, f"{info}/RECORD": record}.items():
            whl.writestr(name, text)
    return folder


def _start(tmp_path: Path, database_url: str, wheels: Path) -> Platform:
    from levante.db import manage

    manage.upgrade(database_url, "head")
    port = free_port()
    config_dir, data_dir, packs = tmp_path / "etc", tmp_path / "data", tmp_path / "packs"
    for folder in (config_dir, data_dir, packs):
        folder.mkdir()
    (config_dir / "levante.conf").write_text(
        f"[core]\ndata_dir = {data_dir}\n"
        f"[database]\nconnection = {database_url}\n"
        f"[api]\nport = {port}\n"
        f"[content]\npacks_paths = {packs}\n"
        "[runner]\npoll_interval = 0.05\n"
        f"[packs]\nenable_common_libs = true\n"
        f"pip_options = --no-index, --find-links={wheels}\n",
        encoding="utf-8",
    )
    config = load_config(config_dir=str(config_dir), environ={})
    engine = make_engine(database_url)
    try:
        register_packs(engine, [])
        key, _ = ensure_api_key(config, engine)
    finally:
        engine.dispose()
    platform = Platform(config_dir, data_dir, f"http://127.0.0.1:{port}", key, database_url)
    api = platform.start("api")
    platform.start("runner")
    wait_up(platform.url, api)
    return platform


@pytest.fixture
def env_platform(tmp_path: Path, database_url: str, wheels: Path) -> Iterator[Platform]:
    running = _start(tmp_path, database_url, wheels)
    try:
        yield running
    finally:
        for role in list(running.processes):
            running.stop(role)


def _run_json(platform: Platform, home: Path, *args: str, ok: bool = True) -> dict[str, Any]:
    done = st2(platform, home, "run", "-j", *args)
    assert (done.returncode == 0) is ok, done.stdout + done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def test_python_action_in_its_pack_environment(env_platform: Platform,
                                               tmp_path: Path) -> None:
    platform = env_platform
    home = tmp_path / "home"
    home.mkdir()
    source = _write(tmp_path / "src" / "envpack", ENV_PACK)

    installed = platform.levante("pack", "install", str(source))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert (tmp_path / "packs" / "envpack" / "actions" / "probe.py").is_file()
    venv = platform.data_dir / "virtualenvs" / "envpack"
    assert (venv / "bin" / "python").exists()

    token_file = tmp_path / "token"
    ran = _run_json(platform, home, "envpack.probe", f"token_file={token_file}")
    assert ran["status"] == "succeeded", ran
    result = ran["result"]
    assert isinstance(result, dict)
    value = result["result"]
    assert value["tiny"] == "levtiny 1.0"  # the requirement, from the offline wheel
    assert (value["helper"], value["common"]) == ("actions lib", "pack lib")
    assert value["pack"] == "envpack" and value["api_status"] == 200
    assert Path(value["prefix"]).resolve() == venv.resolve()
    assert value["levante_visible"] is False and value["config"] == {}
    assert "datastore is not supported yet" in value["datastore"]
    assert "probe logs to stderr" in result["stderr"]
    # The token lived while the action ran, and no longer.
    token = token_file.read_text()
    after = httpx.get(f"{platform.url}/v1/executions/{ran['id']}",
                      headers={"X-Auth-Token": token})
    assert after.status_code == 401
    assert token not in json.dumps(ran)

    got = st2(platform, home, "action", "get", "envpack.probe", "-j")
    assert got.returncode == 0, got.stderr
    shown = json.loads(got.stdout)
    assert shown["entry_point"] == "probe.py"
    assert shown["notify"] == {"on-failure": {"message": "probe failed", "routes": ["ops"]}}

    # A shell action sees the same variables.
    shell = _run_json(platform, home, "core.local",
                      'cmd=echo $ST2_ACTION_PACK_NAME $ST2_ACTION_EXECUTION_ID '
                      '${ST2_ACTION_AUTH_TOKEN:+token} $ST2_ACTION_API_URL')
    assert shell["result"]["stdout"] == (
        f"core {shell['id']} token {platform.url}/v1")

    # setup-virtualenv makes it again; a broken requirement is reported with the pack.
    again = platform.levante("pack", "setup-virtualenv", "envpack")
    assert again.returncode == 0, again.stderr
    (tmp_path / "packs" / "envpack" / "requirements.txt").write_text("levtiny==9.9\n")
    broken = platform.levante("pack", "setup-virtualenv", "envpack")
    assert broken.returncode == 1
    assert "requirements of pack 'envpack'" in broken.stderr
    missing = _run_json(platform, home, "envpack.probe", f"token_file={token_file}", ok=False)
    assert missing["status"] == "failed"
    assert "levante pack setup-virtualenv envpack" in missing["result"]["error"]
    # Registering a pack whose environment is missing sets it up (in the API's process).
    (tmp_path / "packs" / "envpack" / "requirements.txt").write_text("levtiny==1.0\n")
    registered = platform.levante("pack", "register", "envpack")
    assert registered.returncode == 0, registered.stdout + registered.stderr
    assert (venv / "lib").is_dir() and any(venv.glob("lib/python*/site-packages/levtiny"))


def test_core_uuid_and_pack_from_git(sqlite_url: str, tmp_path: Path, wheels: Path) -> None:
    platform = _start(tmp_path, sqlite_url, wheels)
    try:
        home = tmp_path / "home"
        home.mkdir()
        four = _run_json(platform, home, "core.uuid")
        one = _run_json(platform, home, "core.uuid", "uuid_type=uuid1")
        assert four["status"] == one["status"] == "succeeded"
        assert four["result"]["result"][14] == "4"
        assert one["result"]["result"][14] == "1"
        bad = st2(platform, home, "run", "core.uuid", "uuid_type=uuid7")
        assert bad.returncode != 0 and "uuid_type" in bad.stdout + bad.stderr

        repo = _write(tmp_path / "repo", {
            "pack.yaml": "name: gitpack\nversion: 0.1.0\n",
            "actions/hi.yaml": ("name: hi\nrunner_type: local-shell-script\n"
                                "entry_point: scripts/hi.sh\n"),
            "actions/scripts/hi.sh": "#!/bin/sh\necho hi from git\n",
        })
        (repo / "actions" / "scripts" / "hi.sh").chmod(0o755)
        git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "pack"]):
            subprocess.run([*git, *args], check=True, capture_output=True)
        installed = platform.levante("pack", "install", f"file://{repo}")
        assert installed.returncode == 0, installed.stdout + installed.stderr
        assert not (tmp_path / "packs" / "gitpack" / ".git").exists()
        ran = _run_json(platform, home, "gitpack.hi")
        assert ran["result"]["stdout"] == "hi from git"
        got = json.loads(st2(platform, home, "action", "get", "gitpack.hi", "-j").stdout)
        assert got["entry_point"] == "scripts/hi.sh"
        again = platform.levante("pack", "install", str(repo))
        assert again.returncode == 2 and "--force" in again.stderr
    finally:
        for role in list(platform.processes):
            platform.stop(role)
