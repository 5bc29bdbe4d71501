"""levante-track-result: add or remove a results tracker entry by hand.

    levante-track-result <execution-id> [--config-file F | --config-dir D] [--delete]

Adds an entry for a running workflow execution and its unfinished workflow children (the
tracker then polls the engine for them), or removes them with `--delete`. Refuses, with
exit status 2, an execution that is finished or is not a workflow; says so and exits 0
when there is nothing to do. Exits 3 on a database that is not at head, as services do.
"""

from __future__ import annotations

import click

from levante.cli.common import config_options, fail, get_config, open_database
from levante.platform.workflows.tracker import TrackError, add_tracking, remove_tracking


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("execution_id")
@click.option("--delete", is_flag=True, help="Remove the entry instead of adding it.")
@config_options
def track_result(execution_id: str, delete: bool, config_file: str | None,
                 config_dir: str | None) -> None:
    """Track (or stop tracking) the workflow execution EXECUTION_ID of the platform."""
    if config_file and config_dir:
        fail("give --config-file or --config-dir, not both")
    config = get_config(config_file, config_dir)
    with open_database(config) as engine:
        try:
            lines = (remove_tracking if delete else add_tracking)(engine, execution_id)
        except TrackError as exc:
            fail(str(exc))
    for line in lines:
        click.echo(line)


def main() -> None:
    track_result(prog_name="levante-track-result")
