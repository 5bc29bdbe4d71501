"""levante-db-manage: the only way the schema changes (Alembic migrations underneath)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from alembic.util.exc import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from levante.cli.common import (
    config_options,
    database_error_line,
    fail,
    get_config,
    handles_errors,
)
from levante.db import manage, schema_guard

F = TypeVar("F", bound=Callable[..., Any])
_ERRORS = (schema_guard.DatabaseStateError, CommandError, SQLAlchemyError)


def _database_errors(func: F) -> F:
    """A driver error (e.g. an unreachable server) as one line naming the database, not
    SQLAlchemy's several lines; every command takes database/config_file/config_dir."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DBAPIError as exc:
            url = _url(kwargs.get("config_file"), kwargs.get("config_dir"),
                       kwargs.get("database"))
            fail(database_error_line(url, exc))

    return wrapper  # type: ignore[return-value]


def _url(config_file: str | None, config_dir: str | None, database: str | None) -> str:
    return database or get_config(config_file, config_dir).database_url


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _database_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--database",
        metavar="URL",
        default=None,
        help="Database URL, instead of [database] connection.",
    )(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Manage the Levante database schema: upgrade, downgrade, inspect and check it.

    Works the same on SQLite and PostgreSQL. Services never change the schema: after
    installing a new version of Levante, run `levante-db-manage upgrade head`.
    """


@cli.command()
@click.argument("revision", default="head")
@click.option("--sql", "as_sql", is_flag=True, help="Print the SQL instead of running it.")
@_database_option
@config_options
@handles_errors(*_ERRORS)
@_database_errors
def upgrade(
    revision: str, as_sql: bool, database: str | None, config_file: str | None,
    config_dir: str | None,
) -> None:
    """Upgrade the database to REVISION (default: head).

    With --sql, REVISION may be FROM:TO; the SQL is printed from an empty database
    otherwise.
    """
    url = _url(config_file, config_dir, database)
    if as_sql:
        click.echo(manage.upgrade_sql(url, revision), nl=False)
        return
    before, after = manage.upgrade(url, revision)
    if before == after:
        click.echo(f"{_shown(url)}: already at revision {after}; nothing to do.")
    else:
        click.echo(f"{_shown(url)}: upgraded from {before or 'empty'} to {after}.")


@cli.command()
@click.argument("revision")
@_database_option
@config_options
@handles_errors(*_ERRORS)
@_database_errors
def downgrade(
    revision: str, database: str | None, config_file: str | None, config_dir: str | None
) -> None:
    """Downgrade the database to REVISION (`base` removes every table)."""
    url = _url(config_file, config_dir, database)
    before, after = manage.downgrade(url, revision)
    click.echo(f"{_shown(url)}: downgraded from {before or 'empty'} to {after or 'empty'}.")


@cli.command()
@_database_option
@config_options
@handles_errors(*_ERRORS)
@_database_errors
def current(database: str | None, config_file: str | None, config_dir: str | None) -> None:
    """Show the database's current revision and whether it is the head."""
    url = _url(config_file, config_dir, database)
    engine = manage.make_engine(url)
    try:
        rev = manage.current_revision(engine)
    finally:
        engine.dispose()
    head = manage.head_revision()
    state = "(head)" if rev == head else f"(head is {head})"
    click.echo(f"{rev or 'none'} {state}")


@cli.command()
@_database_option
@config_options
@handles_errors(*_ERRORS)
@_database_errors
def history(database: str | None, config_file: str | None, config_dir: str | None) -> None:
    """List every revision, newest first, marking the head and the current one."""
    url = _url(config_file, config_dir, database)
    for rev in manage.history(url):
        marks = [m for m, on in (("head", rev.is_head), ("current", rev.is_current)) if on]
        suffix = f" ({', '.join(marks)})" if marks else ""
        click.echo(f"{rev.down_revision or '<base>'} -> {rev.revision}{suffix}, {rev.message}")


@cli.command()
@click.argument("revision")
@_database_option
@config_options
@handles_errors(*_ERRORS)
@_database_errors
def stamp(
    revision: str, database: str | None, config_file: str | None, config_dir: str | None
) -> None:
    """Record REVISION as the current one without running any migration."""
    url = _url(config_file, config_dir, database)
    after = manage.stamp(url, revision)
    click.echo(f"{_shown(url)}: stamped at revision {after or 'none'}.")


@cli.command()
@_database_option
@config_options
@handles_errors(*_ERRORS)
@_database_errors
def check(database: str | None, config_file: str | None, config_dir: str | None) -> None:
    """Exit 0 when the database is at head and matches the models; else list every difference."""
    url = _url(config_file, config_dir, database)
    problems = manage.check(url)
    if not problems:
        click.echo(f"{_shown(url)}: at head {manage.head_revision()}; schema matches the models.")
        return
    click.echo(f"{_shown(url)}: {len(problems)} difference(s) from head and the models:")
    for line in problems:
        click.echo(f"  {line}")
    sys.exit(1)


AGE_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_age(raw: str, option: str) -> float:
    """'30d', '12h', '90m', '3600s' or a bare number of days -> days."""
    text = raw.strip().lower()
    unit = AGE_UNITS.get(text[-1:]) if text else None
    number = text[:-1] if unit else text
    try:
        value = float(number) * (unit or 86400.0) / 86400.0
    except ValueError:
        value = -1.0
    if value <= 0:
        raise click.BadParameter(
            f"{raw!r} is not an age such as 30d, 12h, 90m or 3600s", param_hint=option)
    return value


@cli.command()
@click.option("--older-than", "older_than", metavar="AGE",
              help="Delete finished executions (with their children, output and events) "
                   "that ended longer ago than AGE (30d, 12h, 90m, 3600s; a bare number "
                   "is days), on both services.")
@click.option("--status", "status_ages", metavar="STATUS:AGE", multiple=True,
              help="Another age for one final status, e.g. --status failed:90d "
                   "(repeatable).")
@click.option("--output-older-than", metavar="AGE",
              help="Delete the output lines of finished executions older than AGE.")
@click.option("--events-older-than", metavar="AGE",
              help="Delete events and reports between the services, delivered longer ago "
                   "than AGE.")
@click.option("--trigger-instances-older-than", metavar="AGE",
              help="Delete trigger instances processed (or failed) longer ago than AGE, "
                   "with their rule enforcements, and timers' fired slots (the latest of "
                   "each timer stays).")
@click.option("--batch-size", type=click.IntRange(min=1), default=500, show_default=True,
              help="Rows deleted per short transaction (live work waits one batch at most).")
@_database_option
@config_options
@handles_errors(*_ERRORS)
@_database_errors
def purge(
    older_than: str | None, status_ages: tuple[str, ...], output_older_than: str | None,
    events_older_than: str | None, trigger_instances_older_than: str | None,
    batch_size: int, database: str | None,
    config_file: str | None, config_dir: str | None,
) -> None:
    """Delete old finished history by hand, as the [retention] policy does on its own.

    Nothing running, and nothing whose tree still runs, is still followed or still has an
    event to deliver, is deleted; children go with their parents.
    """
    # lazy: keeps CLI start fast (the services' stores load only for this command)
    from levante.engine.retention import purge_engine

    # lazy: keeps CLI start fast
    from levante.platform.retention.service import purge_platform

    # lazy: keeps CLI start fast
    from levante.retention import Policy

    if not (older_than or status_ages or output_older_than or events_older_than
            or trigger_instances_older_than):
        raise click.UsageError("Say what to purge: --older-than, --status, "
                               "--output-older-than, --events-older-than or "
                               "--trigger-instances-older-than.")
    status_days: dict[str, float] = {}
    for item in status_ages:
        status, sep, age = item.partition(":")
        if not sep or not status.strip():
            raise click.BadParameter(f"{item!r} is not STATUS:AGE (e.g. failed:90d)",
                                     param_hint="--status")
        status_days[status.strip()] = parse_age(age, "--status")
    policy = Policy(
        executions_days=parse_age(older_than, "--older-than") if older_than else 0.0,
        status_days=status_days,
        output_days=(parse_age(output_older_than, "--output-older-than")
                     if output_older_than else 0.0),
        events_days=(parse_age(events_older_than, "--events-older-than")
                     if events_older_than else 0.0),
        trigger_instances_days=(
            parse_age(trigger_instances_older_than, "--trigger-instances-older-than")
            if trigger_instances_older_than else 0.0),
        batch_size=batch_size,
    )
    url = _url(config_file, config_dir, database)
    engine = manage.make_engine(url)
    try:
        schema_guard.ensure_at_head(engine)

        def progress(kind: str, count: int) -> None:
            click.echo(f"  {kind}: {count} deleted so far", err=True)

        counts = {**purge_platform(engine, policy, progress),
                  **purge_engine(engine, policy, progress)}
    finally:
        engine.dispose()
    click.echo(f"{_shown(url)}: deleted " + ", ".join(
        f"{count} {kind}" for kind, count in counts.items()) + ".")


def main() -> None:
    try:
        cli(prog_name="levante-db-manage")
    except KeyboardInterrupt:  # pragma: no cover
        fail("interrupted", 130)
