"""`-j` on every `levante` command that prints data, as docs/using.md says."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import click

from levante.cli.main import COMMANDS, cli
from tests.conftest import levante_bin

# Commands that print no data: they run Levante, or write the sample file (INI by design).
NO_DATA = {"up", "serve", "config sample"}


def _leaves() -> dict[str, click.Command]:
    ctx = click.Context(cli)
    found: dict[str, click.Command] = {}
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            for sub, leaf in command.commands.items():
                found[f"{name} {sub}"] = leaf
        else:
            found[name] = command
    return found


def test_every_data_command_takes_j() -> None:
    leaves = _leaves()
    assert {"run", "action get", "execution list", "execution trace", "config show",
            "apikey delete"} <= set(leaves)
    missing = [name for name, command in leaves.items() if name not in NO_DATA
               and not any("-j" in p.opts for p in command.params
                           if isinstance(p, click.Option))]
    assert missing == []


def test_the_docs_say_so() -> None:
    docs = (Path(__file__).resolve().parents[3] / "docs" / "using.md").read_text()
    said = " ".join(docs.split("## The `levante` CLI", 1)[1].split("| command |")[0].split())
    assert ("Every command that prints data takes `-j` for JSON: all of them but "
            "`levante up` and `levante serve` (which run Levante) and "
            "`levante config sample`") in said
    assert {"up", "serve", "config sample"} == NO_DATA


def test_config_show_j_masks_secrets(tmp_path: Path) -> None:
    conf = tmp_path / "levante.conf"
    conf.write_text("[database]\nconnection = postgresql://u:hunter2@db/levante\n"
                    "[api]\nport = 9300\n", encoding="utf-8")
    done = subprocess.run([levante_bin("levante"), "--config-file", str(conf), "config",
                           "show", "-j"], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["source"] == str(conf)
    assert shown["sections"]["api"]["port"] == 9300
    assert shown["sections"]["database"]["connection"] == "********"
    assert "hunter2" not in done.stdout
