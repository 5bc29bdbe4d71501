"""`levante pack register|setup-virtualenv|install|list`."""

from __future__ import annotations

import sys
from typing import Any

import click

from levante.cli.client import add_group, client_options, connect, echo_json, show_table
from levante.cli.common import config_options, fail, get_config
from levante.platform.core.api_client import PlatformClient


@click.group("pack")
def pack_group() -> None:
    """Packs: register them from the pack folders, list them."""


def _register(client: PlatformClient, names: list[str], config_file: str | None,
              config_dir: str | None) -> Any:
    """POST /packs/register, waiting as long as the API may take to set up virtualenvs."""
    wait = get_config(config_file, config_dir).get_int("packs", "setup_timeout") + 60
    return client.request("POST", "/packs/register", json={"packs": names},
                          timeout=float(wait)).json()


@pack_group.command("register")
@click.argument("names", nargs=-1)
@client_options
def pack_register(names: tuple[str, ...], as_json: bool, api_url: str | None,
                  config_file: str | None, config_dir: str | None) -> None:
    """Load or reload packs (all when no NAME); report each invalid action file."""
    with connect(api_url, config_file, config_dir) as client:
        report = _register(client, list(names), config_file, config_dir)
    if as_json:
        echo_json(report)
    else:
        click.echo(f"Registered {report['actions']} action(s) from pack(s) "
                   f"{', '.join(report['packs']) or 'none'}"
                   + (f"; removed {report['removed']}." if report["removed"] else "."))
        for error in report["errors"]:
            click.echo(f"invalid: {error['file']}: {error['reason']}")
    if report["errors"]:
        sys.exit(1)


def _pack_env_settings(config_file: str | None, config_dir: str | None) -> Any:
    # imported here, not at the top: the HTTP-only commands (list, register) start faster
    # lazy: keeps CLI start fast
    from levante.platform.core.pack_env import settings_from_config

    return settings_from_config(get_config(config_file, config_dir))


def _setup_env(settings: Any, name: str, path: Any, quiet: bool = False) -> dict[str, Any]:
    # imported here: only the commands that build virtualenvs need it (quick CLI start)
    # lazy: keeps CLI start fast
    from levante.platform.core.pack_env import PackEnvError, needs_virtualenv, setup_virtualenv

    if not needs_virtualenv(path):
        if not quiet:
            click.echo(f"Pack {name} has no requirements.txt: it needs no virtual "
                       "environment.")
        return {"pack": name, "virtualenv": None}
    try:
        folder = setup_virtualenv(settings, name, path)
    except PackEnvError as exc:
        fail(str(exc), 1)
    if not quiet:
        click.echo(f"Set up the virtual environment of pack {name} in {folder}.")
    return {"pack": name, "virtualenv": str(folder)}


@pack_group.command("setup-virtualenv")
@click.argument("names", nargs=-1, required=True)
@click.option("-j", "--json", "as_json", is_flag=True, help="Print JSON.")
@config_options
def pack_setup_virtualenv(names: tuple[str, ...], as_json: bool, config_file: str | None,
                          config_dir: str | None) -> None:
    """(Re)make the virtual environment of packs and install their requirements.txt
    (on this host, in [packs] virtualenvs_path)."""
    # imported here: only setup-virtualenv reads the pack folders (quick CLI start)
    # lazy: keeps CLI start fast
    from levante.platform.core.packs import discover_packs

    config = get_config(config_file, config_dir)
    found = discover_packs(config.get_list("content", "packs_paths"))
    settings = _pack_env_settings(config_file, config_dir)
    missing = [name for name in names if name not in found]
    if missing:
        fail(f"Pack {', '.join(repr(m) for m in missing)} cannot be found in the pack "
             "folders.")
    made = [_setup_env(settings, name, found[name], quiet=as_json) for name in names]
    if as_json:
        echo_json(made)


@pack_group.command("install")
@click.argument("source")
@click.option("--force", is_flag=True, help="Replace a pack of the same name already there.")
@client_options
def pack_install(source: str, force: bool, as_json: bool, api_url: str | None,
                 config_file: str | None, config_dir: str | None) -> None:
    """Install a pack from a local folder or a git URL: copy it into the first pack folder
    ([content] packs_paths), set up its virtual environment, register it."""
    # imported here: only install fetches packs (quick CLI start)
    # lazy: keeps CLI start fast
    from levante.platform.core.pack_install import PackInstallError, fetch_pack

    config = get_config(config_file, config_dir)
    paths = config.get_list("content", "packs_paths")
    if not paths:
        fail("[content] packs_paths is empty: there is no pack folder to install into.")
    try:
        name, path = fetch_pack(source, paths[0], force=force)
    except PackInstallError as exc:
        fail(str(exc))
    if not as_json:
        click.echo(f"Copied pack {name} into {path}.")
    _setup_env(_pack_env_settings(config_file, config_dir), name, path, quiet=as_json)
    with connect(api_url, config_file, config_dir) as client:
        report = _register(client, [name], config_file, config_dir)
    if as_json:
        echo_json(report)
    else:
        click.echo(f"Registered {report['actions']} action(s) from pack {name}.")
        for error in report["errors"]:
            click.echo(f"invalid: {error['file']}: {error['reason']}")
    if report["errors"]:
        sys.exit(1)


@pack_group.command("list")
@client_options
def pack_list(as_json: bool, api_url: str | None, config_file: str | None,
              config_dir: str | None) -> None:
    """List registered packs."""
    with connect(api_url, config_file, config_dir) as client:
        rows = client.get("/packs")
    if as_json:
        echo_json(rows)
    else:
        show_table(rows, ["ref", "version", "description", "path"])


# --- apikey -------------------------------------------------------------------------------


def register(group: click.Group) -> None:
    add_group(group, pack_group)
