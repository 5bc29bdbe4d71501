"""What every command shares: --config-file/--config-dir, loading config, clean errors."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from levante.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from sqlalchemy import Engine

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


def shown_url(url: str) -> str:
    """The database URL as it may be printed: the password masked."""
    # lazy: keeps CLI start fast
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _reason(url: str, exc: BaseException) -> str:
    """The first line of the driver's message, with the password masked should it appear."""
    # lazy: keeps CLI start fast
    from sqlalchemy.engine import make_url

    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    reason = lines[0].strip() if lines else type(orig).__name__
    password = make_url(url).password
    return reason.replace(str(password), "***") if password else reason


def database_error_line(url: str, exc: BaseException) -> str:
    """One line naming the database (no password) and the driver's reason, instead of a
    traceback; an error with no statement happened while connecting."""
    if getattr(exc, "statement", None) is None:
        return f"cannot reach database {shown_url(url)}: {_reason(url, exc)}"
    return f"database {shown_url(url)}: {_reason(url, exc)}"


@contextlib.contextmanager
def open_database(config: Config) -> Iterator[Engine]:
    """An engine on the configured database, reachable and at head, disposed on exit.

    For commands that read tables directly: on a missing, empty or older database they
    would die with a SQLAlchemy traceback ("no such table"). Instead, like a service,
    print one line naming the database and what to run, exit 3 and create nothing; a
    database that cannot be reached is one line and exit 2.
    """
    # lazy: keeps CLI start fast
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    # lazy: keeps CLI start fast
    from levante.db import schema_guard

    # lazy: keeps CLI start fast
    from levante.db.connect import engine_from_config, is_sqlite, sqlite_path

    url = config.database_url
    shown = shown_url(url)
    embedded = not config.get_str("database", "connection")
    also = " (or `levante up`, which upgrades it by itself)" if embedded else ""
    path = sqlite_path(url) if is_sqlite(url) else None
    if path is not None and not path.exists():
        # Connecting would create an empty file (and its folder): say so without it.
        missing = schema_guard.SchemaNotAtHead(None, schema_guard.head_revision())
        fail(missing.describe(shown, also), schema_guard.EXIT_SCHEMA_NOT_AT_HEAD)
    try:
        engine = engine_from_config(config)
    except OSError as exc:
        fail(database_error_line(url, exc))
    try:
        try:
            schema_guard.ensure_at_head(engine)
        except schema_guard.SchemaNotAtHead as exc:
            fail(exc.describe(shown, also), schema_guard.EXIT_SCHEMA_NOT_AT_HEAD)
        except SQLAlchemyError as exc:
            fail(database_error_line(url, exc))
        try:
            yield engine
        except OperationalError as exc:
            # The database went away (or stayed locked) halfway through the command.
            fail(database_error_line(url, exc))
    finally:
        engine.dispose()
