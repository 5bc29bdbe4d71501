"""Rendered parameters and pack configs, StackStorm-style, through the real `st2` CLI and
`levante pack register` (issue 11, points 4 and 5)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.platform.conftest import Platform, start_platform
from tests.acceptance.platform.test_st2_cli import ST2, st2

pytestmark = pytest.mark.skipif(
    not ST2.exists(), reason="st2client is not installed: run `make clients`"
)

SECRET = "s3cr3t-token-value"


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def _packs(root: Path) -> None:
    _write(root / "paramsdemo", {
        "pack.yaml": "name: paramsdemo\nversion: 0.1.0\ndescription: d\nauthor: t\n",
        "config.schema.yaml": """\
            greeting_word: {type: string, default: Hello}
            api_token: {type: string, secret: true, required: true}
            retries: {type: integer, default: 3}
            region:
              type: object
              properties:
                name: {type: string, default: eu-west}
            """,
        "actions/greet.yaml": """\
            name: greet
            runner_type: local-shell-cmd
            parameters:
              name: {type: string, default: world}
              greeting: {type: string, default: "{{ config_context.greeting_word }}"}
              times: {type: integer, default: "{{ config_context.retries }}"}
              cmd:
                default: "echo {{ greeting }} {{ name }} x{{ times }} {{ action_context.user }}"
            """,
        "actions/cycle.yaml": """\
            name: cycle
            runner_type: local-shell-cmd
            parameters:
              first: {type: string, default: "{{ second }}"}
              second: {type: string, default: "{{ first }}!"}
              cmd: {default: "echo {{ first }}"}
            """,
        "actions/kv.yaml": """\
            name: kv
            runner_type: local-shell-cmd
            parameters:
              cmd: {default: "echo {{ st2kv.system.word }}"}
            """,
        "actions/cfg.yaml": """\
            name: cfg
            runner_type: python-script
            entry_point: cfg.py
            """,
        "actions/cfg.py": """\
            from st2common.runners.base_action import Action


            class ShowConfig(Action):
                def run(self):
                    return {"retries": self.config["retries"],
                            "region": self.config["region"]["name"],
                            "token_length": len(self.config["api_token"])}
            """,
    })
    _write(root / "badschema", {
        "pack.yaml": "name: badschema\nversion: 0.1.0\ndescription: d\nauthor: t\n",
        "config.schema.yaml": "port: {type: integr}\n",
    })
    _write(root / "badvalue", {
        "pack.yaml": "name: badvalue\nversion: 0.1.0\ndescription: d\nauthor: t\n",
        "config.schema.yaml": "port: {type: integer, required: true}\n",
    })


@pytest.fixture
def platform(tmp_path: Path, sqlite_url: str) -> Iterator[Platform]:
    """On SQLite: rendering is the platform's Python; the configs' SQL runs on both
    databases in tests/integration/platform/service/test_params_configs.py."""
    configs = tmp_path / "configs"
    _write(configs, {"paramsdemo.yaml": f"api_token: {SECRET}\nretries: 5\n",
                     "badvalue.yaml": "port: eighty\n"})
    packs = tmp_path / "packs2"
    _packs(packs)
    running = start_platform(tmp_path, sqlite_url, f", {packs}", configs)
    try:
        yield running
    finally:
        running.close()


def test_rendered_parameters_and_pack_configs(platform: Platform, tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    # Registration checks the schema's form and the config against it: file and reason.
    reg = platform.levante("pack", "register", "paramsdemo", "badschema", "badvalue", "--json")
    assert reg.returncode == 1, reg.stderr
    report = json.loads(reg.stdout)
    assert set(report["packs"]) == {"paramsdemo", "badschema", "badvalue"}
    errors = {Path(e["file"]).name: e["reason"] for e in report["errors"]}
    assert "config.schema.yaml" in errors and "'port'" in errors["config.schema.yaml"] \
        and "integr" in errors["config.schema.yaml"], errors
    assert str(configs / "badvalue.yaml") in [e["file"] for e in report["errors"]]
    assert "'port'" in errors["badvalue.yaml"] and "integer" in errors["badvalue.yaml"]
    assert SECRET not in reg.stdout

    home = tmp_path / "home"
    home.mkdir()
    # Defaults refer to other parameters, the pack config and the action context; a lone
    # expression keeps its type (times is an integer); a given value is rendered too.
    ran = st2(platform, home, "run", "paramsdemo.greet", "-j")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    execution = json.loads(ran.stdout)
    assert execution["status"] == "succeeded"
    assert execution["result"]["stdout"] == "Hello world x5 admin"
    assert execution["parameters"]["times"] == 5
    given = st2(platform, home, "run", "paramsdemo.greet", "name={{ greeting }}-again", "-j")
    assert json.loads(given.stdout)["result"]["stdout"] == "Hello Hello-again x5 admin"

    # A cycle and the datastore are refused before anything runs, naming the parameters.
    cycle = st2(platform, home, "run", "paramsdemo.cycle")
    assert cycle.returncode != 0
    assert "'first', 'second'" in cycle.stdout + cycle.stderr and "cycle" in cycle.stdout
    mine = platform.levante("run", "paramsdemo.cycle")
    assert mine.returncode != 0 and "'first', 'second'" in mine.stdout + mine.stderr
    kv = st2(platform, home, "run", "paramsdemo.kv")
    assert kv.returncode != 0 and "does not exist in the datastore" in kv.stdout + kv.stderr
    with platform.client() as client:
        bad = client.post("/executions", json={"action": "paramsdemo.greet",
                                                "parameters": {"name": "{{ nope }}"}})
        assert bad.status_code == 400 and "'name'" in bad.json()["faultstring"], bad.text
        assert "nope" in bad.json()["faultstring"]

        # The config as StackStorm's API shows it, secrets masked, defaults filled.
        shown = client.get("/configs/paramsdemo").json()
        assert shown["values"] == {"api_token": "********", "retries": 5,
                                   "greeting_word": "Hello", "region": {"name": "eu-west"}}
        listed = client.get("/configs")
        assert [c["pack"] for c in listed.json()] == ["paramsdemo"]
        assert SECRET not in listed.text
        schema = client.get("/config_schemas/paramsdemo").json()
        assert schema["attributes"]["api_token"]["secret"] is True
        assert client.get("/configs/badschema").status_code == 404

    # A Python action reads self.config (the registered config, secret included).
    cfg = st2(platform, home, "run", "paramsdemo.cfg", "-j")
    result = json.loads(cfg.stdout)
    assert result["status"] == "succeeded", cfg.stdout
    assert result["result"]["result"] == {"retries": 5, "region": "eu-west",
                                          "token_length": len(SECRET)}
