"""levante: the command-line interface to every part of Levante."""

from __future__ import annotations

import importlib
from typing import Any

import click

from levante import __version__
from levante.cli.common import config_options

# Modules that add commands to the `levante` group; each has `register(group)`.
COMMAND_MODULES = (
    "levante.cli.config_cmd",
    "levante.cli.serve",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="levante")
@config_options
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, config_dir: str | None) -> None:
    """Levante: workflow automation.

    Run `levante up` to start everything in one process on SQLite; see
    `levante COMMAND --help` for each command.
    """
    ctx.obj = {"config_file": config_file, "config_dir": config_dir}


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        module: Any = importlib.import_module(name)
        module.register(cli)


_register_commands()


def main() -> None:
    cli(prog_name="levante")
