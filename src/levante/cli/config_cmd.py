"""`levante config show|sample`: the effective configuration and the sample file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from levante.cli.common import config_options, get_config
from levante.config import MASK, render_sample


@click.group("config")
def config_group() -> None:
    """Show the effective configuration or write the sample file."""


@config_group.command("show")
@click.option("-j", "--json", "as_json", is_flag=True,
              help="Print JSON: the source and each section's options.")
@config_options
def show(as_json: bool, config_file: str | None, config_dir: str | None) -> None:
    """Print the effective configuration (defaults, file, environment), secrets masked."""
    config = get_config(config_file, config_dir)
    if as_json:
        sections: dict[str, dict[str, Any]] = {}
        for option, value in config.items():
            shown = MASK if option.secret and value else value
            sections.setdefault(option.section, {})[option.name] = _plain(shown)
        click.echo(json.dumps({"source": str(config.source) if config.source else None,
                               "sections": sections}, indent=2))
        return
    source = str(config.source) if config.source else "no file; defaults and environment"
    click.echo(f"# source: {source}")
    click.echo(config.render(mask_secrets=True), nl=False)


@config_group.command("sample")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write to this file instead of standard output.")
@click.option("--check", "check_file", type=click.Path(dir_okay=False), default=None,
              help="Exit 1 if this file differs from the generated sample.")
def sample(output: str | None, check_file: str | None) -> None:
    """Generate etc/levante.conf.sample from the option declarations."""
    text = render_sample()
    if check_file:
        if Path(check_file).read_text(encoding="utf-8") != text:
            click.echo(f"{check_file} is out of date: run `levante config sample -o "
                       f"{check_file}`", err=True)
            sys.exit(1)
        click.echo(f"{check_file} is up to date.")
        return
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


def _plain(value: Any) -> Any:
    """A value as JSON has it: tuples as lists, paths and other objects as text."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def register(group: click.Group) -> None:
    group.add_command(config_group)
