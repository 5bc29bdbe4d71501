"""levante: the command-line interface to every part of Levante.

Subcommands are imported only when used, so that `levante run ...`, which only talks
HTTP, does not pay for importing the database and server stacks.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from levante import __version__
from levante.cli.common import config_options

# Top-level command -> (one-line help, modules that contribute to it). Each module has
# `register(group)`, which adds its commands (or subcommands of a shared group, see
# levante.cli.client.add_group). A platform feature package mounts its Click commands with
# one line here naming its ``cli.py``, e.g. "key": ("...", ("levante.platform.<f>.cli",)).
COMMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "up": ("Run all of Levante in one process (embedded, SQLite).", ("levante.cli.serve",)),
    "serve": ("Run one role of Levante (api, engine, notifier, runner, resultstracker, "
              "garbagecollector, rulesengine, sensorcontainer).",
              ("levante.cli.serve",)),
    "run": ("Run an action and show its result.", ("levante.cli.actions",)),
    "action": ("List and show actions.", ("levante.cli.actions",)),
    "execution": ("List, show, follow, cancel, re-run and trace executions.",
                  ("levante.cli.executions", "levante.cli.trace",
                   "levante.platform.stream.cli")),
    "pack": ("Register and list packs.", ("levante.cli.packs",)),
    "apikey": ("Create, list and delete API keys.", ("levante.cli.apikeys",)),
    "key": ("Datastore keys: list, get, set, delete, load.", ("levante.platform.datastore.cli",)),
    "inquiry": ("List, show and answer inquiries (core.ask).",
                ("levante.platform.inquiries.cli",)),
    "rule": ("Rules: list, show, create, enable, disable, delete; their enforcements.",
             ("levante.platform.rules.cli",)),
    "trigger": ("Trigger types and trigger instances: list, show, re-emit.",
                ("levante.platform.triggers.cli",)),
    "sensor": ("List, show, enable and disable pack sensors.",
               ("levante.platform.sensors.cli",)),
    "user": ("Add users who log in with a password.", ("levante.platform.logins.cli",)),
    "webhook": ("Post to webhooks and list them.", ("levante.platform.webhooks.cli",)),
    "timer": ("List timers (interval, date, cron).", ("levante.platform.timers.cli",)),
    "config": ("Show the effective configuration or write the sample file.",
               ("levante.cli.config_cmd",)),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: set[str] = set()

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            for module_name in COMMANDS[cmd_name][1]:
                if module_name not in self._loaded:
                    self._loaded.add(module_name)
                    module: Any = importlib.import_module(module_name)
                    module.register(self)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_text) for name, (help_text, _) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="levante")
@config_options
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, config_dir: str | None) -> None:
    """Levante: workflow automation.

    Run `levante up` to start everything in one process on SQLite; see
    `levante COMMAND --help` for each command.
    """
    ctx.obj = {"config_file": config_file, "config_dir": config_dir}


def main() -> None:
    cli(prog_name="levante")
