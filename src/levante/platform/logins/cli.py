"""``levante user add|passwd|delete|list``: the users file that password logins check."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from levante.cli.common import config_options, fail, get_config
from levante.platform.logins.users import (
    UsersFileError,
    delete_user,
    read_users,
    set_password,
    users_path,
)

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    return click.option("-j", "--json", "as_json", is_flag=True, help="Print JSON.")(func)


def _done(as_json: bool, text: str, name: str, path: Path, what: str) -> None:
    if as_json:
        click.echo(json.dumps({"user": name, "users_file": str(path), "done": what}))
    else:
        click.echo(text)


def _password(given: str | None) -> str:
    if given is not None:
        return given
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@click.group("user")
def user_group() -> None:
    """Users who may log in with a password (st2 login, st2 auth)."""


@user_group.command("add")
@json_option
@click.argument("name")
@click.option("-p", "--password", default=None,
              help="The password (default: asked twice, not echoed).")
@config_options
def user_add(name: str, password: str | None, as_json: bool, config_file: str | None,
             config_dir: str | None) -> None:
    """Add user NAME to the users file ([auth] users_file)."""
    path = users_path(get_config(config_file, config_dir))
    try:
        set_password(path, name, _password(password), create=True)
    except UsersFileError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")
    _done(as_json, f"Added user {name} to {path}.", name, path, "added")


@user_group.command("passwd")
@json_option
@click.argument("name")
@click.option("-p", "--password", default=None,
              help="The new password (default: asked twice, not echoed).")
@config_options
def user_passwd(name: str, password: str | None, as_json: bool, config_file: str | None,
                config_dir: str | None) -> None:
    """Change the password of user NAME."""
    path = users_path(get_config(config_file, config_dir))
    try:
        set_password(path, name, _password(password), create=False)
    except UsersFileError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")
    _done(as_json, f"Changed the password of {name} in {path}.", name, path,
          "password changed")


@user_group.command("delete")
@json_option
@click.argument("name")
@config_options
def user_delete(name: str, as_json: bool, config_file: str | None, config_dir: str | None) -> None:
    """Remove user NAME (tokens already given to them live until they expire)."""
    path = users_path(get_config(config_file, config_dir))
    try:
        delete_user(path, name)
    except UsersFileError as exc:
        fail(str(exc))
    _done(as_json, f"Removed user {name} from {path}.", name, path, "deleted")


@user_group.command("list")
@json_option
@config_options
def user_list(as_json: bool, config_file: str | None, config_dir: str | None) -> None:
    """The users of the users file, one a line."""
    path = users_path(get_config(config_file, config_dir))
    try:
        names = sorted(read_users(path))
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    if as_json:
        click.echo(json.dumps(names))
        return
    for name in names:
        click.echo(name)


def register(group: click.Group) -> None:
    group.add_command(user_group)
