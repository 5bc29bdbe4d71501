"""`levante serve ROLE` (one role, at scale) and `levante up` (everything, embedded)."""

from __future__ import annotations

import asyncio
import importlib
import logging
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from levante import cpu
from levante.cli.common import config_options, database_error_line, fail, get_config
from levante.config import Config, ConfigError, load_config
from levante.db import schema_guard
from levante.db.connect import engine_from_config, make_engine
from levante.log import setup_logging
from levante.roles import ROLES, role_services
from levante.service import EXIT_SCHEMA_NOT_AT_HEAD, Service, guard, run_services

log = logging.getLogger("levante.cli")

# Called by `levante up` after the upgrade, before serving: "module:function";
# function(config, engine) -> lines to print (e.g. where the first API key was written).
UP_HOOKS: tuple[str, ...] = ("levante.platform.service:prepare_up",
                             "levante.platform.datastore.cli:prepare_up")


def _upgrade(url: str) -> tuple[str | None, str | None]:
    """(revision before, after): Alembic runs only when the database is not at head."""
    engine = make_engine(url)
    try:
        current = schema_guard.current_revision(engine)
    finally:
        engine.dispose()
    if current == schema_guard.head_revision():
        return current, current
    # lazy: keeps CLI start fast (Alembic, only when there is something to upgrade)
    from levante.db import manage

    return manage.upgrade(url, "head")


def _services_for(roles: list[str], config: Config) -> tuple[Any, list[Service]]:
    engine = engine_from_config(config)
    try:
        guard(engine)
    except schema_guard.SchemaNotAtHead as exc:
        click.echo(f"levante: {exc}", err=True)
        sys.exit(EXIT_SCHEMA_NOT_AT_HEAD)
    except SQLAlchemyError as exc:
        engine.dispose()
        fail(database_error_line(config.database_url, exc))
    services: list[Service] = []
    for role in roles:
        services.extend(role_services(role, config, engine))
    return engine, services


@click.command("serve")
@click.argument("role", type=click.Choice(sorted(ROLES)))
@config_options
def serve(role: str, config_file: str | None, config_dir: str | None) -> None:
    """Run one role of Levante in the foreground (several processes may run each role).

    The database must already be at head: run `levante-db-manage upgrade head` first.
    """
    config = get_config(config_file, config_dir)
    setup_logging(config)
    engine, services = _services_for([role], config)
    _pin(config)  # (before any thread starts: they inherit it)
    log.info("serving %s on %s", role, make_url(config.database_url).render_as_string())
    try:
        asyncio.run(run_services(services))
    finally:
        engine.dispose()


def _pin(config: Config) -> None:
    """Keep this process's threads on one CPU unless `[core] cpu_affinity` says not."""
    try:
        chosen = cpu.pin_process(config.get_str("core", "cpu_affinity"))
    except ValueError as exc:
        fail(str(exc))
    if chosen is not None:
        log.info("threads of this process keep to CPU %d ([core] cpu_affinity)", chosen)


def _hook(path: str) -> Callable[..., list[str]] | None:
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    hook: Callable[..., list[str]] | None = getattr(module, attr, None)
    return hook


@click.command("up")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Data folder (default: [core] data_dir, ~/.local/share/levante).")
@click.option("--api-port", type=int, default=None, help="Platform API port (default 9101).")
@click.option("--engine-port", type=int, default=None, help="Engine API port (default 8989).")
@click.option("--example/--no-example", "example", default=None,
              help="Run the example workflow examples.hello_chain at start, or not "
                   "(default: on the first start with this data folder only).")
@config_options
def up(
    data_dir: str | None, api_port: int | None, engine_port: int | None,
    example: bool | None, config_file: str | None, config_dir: str | None,
) -> None:
    """Run all of Levante in one process (embedded mode; SQLite in the data folder).

    This is the one command that upgrades the database by itself, and it says so.
    It prints how to use the CLI from another terminal. Stop it with Ctrl-C.
    """
    config = get_config(config_file, config_dir)
    overrides: dict[tuple[str, str], Any] = {}
    if data_dir:
        overrides[("core", "data_dir")] = data_dir
    if api_port is not None:
        overrides[("api", "port")] = api_port
    if engine_port is not None:
        overrides[("engine", "port")] = engine_port
    config = config.with_overrides(overrides)
    setup_logging(config)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    url = config.database_url
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        before, after = _upgrade(url)
    except schema_guard.DatabaseStateError as exc:
        fail(str(exc))
    except (SQLAlchemyError, OSError) as exc:
        fail(database_error_line(url, exc))
    if before == after:
        click.echo(f"Database {shown} is at revision {after} (head).")
    else:
        click.echo(
            f"Upgraded database {shown} from revision {before or 'empty'} to {after} (head); "
            "`levante up` upgrades by itself, `levante serve` never does."
        )
    engine, services = _services_for(sorted(ROLES), config)
    _pin(config)  # (before any thread starts: they inherit it)
    # imported here: `levante serve` of any role has no use for the first-start example
    # lazy: keeps CLI start fast
    from levante.platform.core import example_run

    hint = cli_hint(config, config_file, config_dir)
    run_example = example if example is not None else example_run.first_start(config)
    if run_example:
        services.extend(example_run.example_services(config, click.echo, after=hint))
    for path in UP_HOOKS:
        hook = _hook(path)
        if hook is not None:
            for line in hook(config, engine):
                click.echo(line)
    if not run_example and example is None:
        click.echo(example_run.not_again_line(config))
    click.echo(f"Platform API (StackStorm v1): {config.public_url('api')}/v1")
    click.echo(f"Web UI: {config.public_url('api')}/ui/")
    click.echo(f"Engine API (Mistral v2): {config.public_url('engine')}/v2")
    for line in hint:
        click.echo(line)
    click.echo("Levante is running; press Ctrl-C to stop.")
    try:
        asyncio.run(run_services(services))
    finally:
        engine.dispose()
    click.echo("Levante stopped.")


def cli_hint(config: Config, config_file: str | None, config_dir: str | None) -> list[str]:
    """How to use the CLI from another terminal: lines a user can paste as they are.

    The folder of this `levante` goes on PATH (a second terminal has no virtual environment
    active); the API URL and the data folder (where the CLI finds its key) are exported
    when a plain `levante` in a new shell would not find them: when they came from options
    of `levante up`, an explicit configuration file or this shell's environment.
    """
    lines = ["Use the CLI from another terminal (in any folder):"]
    here = Path(sys.executable).parent
    if (here / "levante").exists():
        lines.append(f"  export PATH={shlex.quote(str(here))}:\"$PATH\"")
    try:
        plain = load_config(environ={})
    except ConfigError:
        plain = None
    exports = []
    if plain is None or plain.data_dir != config.data_dir or config_file or config_dir:
        exports.append(f"LEVANTE_CORE_DATA_DIR={shlex.quote(str(config.data_dir))}")
    if plain is None or plain.public_url("api") != config.public_url("api") \
            or config_file or config_dir:
        exports.append(f"LEVANTE_API_URL={shlex.quote(config.public_url('api'))}")
    if exports:
        lines.append("  export " + " ".join(exports))
    lines.append("  levante execution list")
    return lines


def register(group: click.Group) -> None:
    group.add_command(serve)
    group.add_command(up)
