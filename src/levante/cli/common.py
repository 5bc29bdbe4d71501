"""What every command shares: --config-file/--config-dir, loading config, clean errors."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from levante.config import Config, ConfigError, load_config

F = TypeVar("F", bound=Callable[..., Any])


def config_options(func: F) -> F:
    """Add --config-file and --config-dir to a command."""
    func = click.option(
        "--config-dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Folder holding levante.conf.",
    )(func)
    func = click.option(
        "--config-file",
        type=click.Path(dir_okay=False),
        default=None,
        help="Configuration file (INI). Default: ./levante.conf, then /etc/levante/levante.conf.",
    )(func)
    return func


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"{_prog()}: error: {message}", err=True)
    sys.exit(code)


def _prog() -> str:
    ctx = click.get_current_context(silent=True)
    name = ctx.find_root().info_name if ctx else None
    return name or "levante"


def get_config(config_file: str | None, config_dir: str | None) -> Config:
    """Load the configuration named by the command's options, or of its parent group."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and config_file is None and config_dir is None:
        parent: dict[str, Any] = ctx.find_root().obj or {}
        config_file = parent.get("config_file")
        config_dir = parent.get("config_dir")
    try:
        return load_config(config_file, config_dir)
    except ConfigError as exc:
        fail(str(exc))


def handles_errors(*errors: type[Exception]) -> Callable[[F], F]:
    """Turn expected exceptions into one clear line and exit status 2, not a traceback."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except (ConfigError, *errors) as exc:  # type: ignore[misc]
                fail(str(exc))

        return wrapper  # type: ignore[return-value]

    return decorate
