"""`levante timer list`: the timer triggers (interval, date, cron) over the API."""

from __future__ import annotations

import click

from levante.cli.client import client_options, connect, echo_json, show_table

COLUMNS = ["ref", "type", "parameters"]


@click.group("timer")
def timer_group() -> None:
    """Timers: list."""


@timer_group.command("list")
@click.option("-t", "--type", "timer_type", default=None,
              help="Only this type: core.st2.IntervalTimer, core.st2.DateTimer or "
                   "core.st2.CronTimer.")
@client_options
def timer_list(timer_type: str | None, as_json: bool, api_url: str | None,
               config_file: str | None, config_dir: str | None) -> None:
    """List the timer triggers rules use."""
    with connect(api_url, config_file, config_dir) as client:
        rows = client.get("/timers", timer_type=timer_type)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No timers (a rule on a timer trigger type makes one).")
        return
    show_table(rows, COLUMNS, whole=("ref",))


def register(group: click.Group) -> None:
    group.add_command(timer_group)
