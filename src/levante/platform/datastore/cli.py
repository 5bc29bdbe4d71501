"""`levante key`: the datastore from the shell, shaped like `st2 key`, over the API; and
`levante key generate-crypto-key`, which writes the key secrets are encrypted with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml
from sqlalchemy import Engine

from levante.cli.client import client_options, connect, echo_json, show_table
from levante.cli.common import config_options, fail, get_config
from levante.config import Config
from levante.platform.datastore import crypto
from levante.platform.datastore.pairs import key_path_of

COLUMNS = ["name", "value", "secret", "encrypted", "scope", "user", "expire_timestamp"]


def _scope_options(func: Any) -> Any:
    func = click.option("-u", "--user", default=None,
                        help="User whose user-scoped keys (admins only for another).")(func)
    return click.option("-s", "--scope", default="system", show_default=True,
                        help="system or user (all: both, when listing).")(func)


@click.group("key")
def key_group() -> None:
    """Datastore keys: list, get, set, delete, load; generate-crypto-key."""


@key_group.command("list")
@click.option("-p", "--prefix", default=None, help="Only keys whose name starts with this.")
@click.option("-d", "--decrypt", is_flag=True, help="Show secrets decrypted.")
@click.option("-n", "--last", "limit", type=int, default=50, show_default=True,
              help="At most this many keys (-1: all).")
@_scope_options
@client_options
def key_list(prefix: str | None, decrypt: bool, limit: int, scope: str, user: str | None,
             as_json: bool, api_url: str | None, config_file: str | None,
             config_dir: str | None) -> None:
    """List keys (by default the system's)."""
    with connect(api_url, config_file, config_dir) as client:
        rows, total = client.get_with_total(
            "/keys", prefix=prefix, scope=scope, user=user, limit=limit,
            decrypt="true" if decrypt else "false")
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No keys.")
        return
    show_table(rows, COLUMNS, whole=("name",))
    if total is not None and total > len(rows):
        click.echo(f"({len(rows)} of {total} keys; -n -1 for all)")


@key_group.command("get")
@click.argument("name")
@click.option("-d", "--decrypt", is_flag=True, help="Show a secret decrypted.")
@_scope_options
@client_options
def key_get(name: str, decrypt: bool, scope: str, user: str | None, as_json: bool,
            api_url: str | None, config_file: str | None, config_dir: str | None) -> None:
    """Show a key; `-j` for JSON."""
    with connect(api_url, config_file, config_dir) as client:
        doc = client.get(f"/keys/{name}", scope=scope, user=user,
                         decrypt="true" if decrypt else "false")
    if as_json:
        echo_json(doc)
    else:
        show_table([doc], COLUMNS, whole=("name",))


@key_group.command("set")
@click.argument("name")
@click.argument("value")
@click.option("-e", "--encrypt", is_flag=True, help="Keep the value as a secret (encrypted).")
@click.option("-l", "--ttl", type=click.IntRange(1), default=None,
              help="Seconds the key lives.")
@_scope_options
@client_options
def key_set(name: str, value: str, encrypt: bool, ttl: int | None, scope: str,
            user: str | None, as_json: bool, api_url: str | None, config_file: str | None,
            config_dir: str | None) -> None:
    """Create or replace a key."""
    body: dict[str, Any] = {"name": name, "value": value, "scope": scope}
    if user:
        body["user"] = user
    if encrypt:
        body["secret"] = True
    if ttl:
        body["ttl"] = ttl
    with connect(api_url, config_file, config_dir) as client:
        doc = client.put(f"/keys/{name}", body)
    if as_json:
        echo_json(doc)
    else:
        show_table([doc], COLUMNS, whole=("name",))


@key_group.command("delete")
@click.argument("name")
@_scope_options
@client_options
def key_delete(name: str, scope: str, user: str | None, as_json: bool, api_url: str | None,
               config_file: str | None, config_dir: str | None) -> None:
    """Delete a key."""
    del as_json
    params = {"scope": scope, **({"user": user} if user else {})}
    with connect(api_url, config_file, config_dir) as client:
        client.request("DELETE", f"/keys/{name}", params=params)
    click.echo(f'Deleted key "{name}".')


@key_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-c", "--convert", is_flag=True,
              help="Store a value that is not a string as its JSON text.")
@client_options
def key_load(file: Path, convert: bool, as_json: bool, api_url: str | None,
             config_file: str | None, config_dir: str | None) -> None:
    """Load keys from a JSON or YAML file (a list of {name, value, secret, ttl, scope,
    user}, or one; the output of `key list -j` too)."""
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        fail(f"{file}: cannot be read as JSON or YAML ({exc})")
    items = data if isinstance(data, list) else [data] if data else []
    loaded = []
    with connect(api_url, config_file, config_dir) as client:
        for index, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) \
                    or "value" not in item:
                fail(f"{file}: item {index + 1} needs a 'name' and a 'value'")
            value = item["value"]
            if not isinstance(value, str):
                if not convert:
                    fail(f"{file}: the value of {item['name']!r} is not a string (use "
                         "-c/--convert to store its JSON text)")
                value = json.dumps(value)
            body = {"name": item["name"], "value": value,
                    **{k: item[k] for k in ("secret", "encrypted", "ttl", "user")
                       if item.get(k)}}
            body["scope"] = item.get("scope") or "system"
            loaded.append(client.put(f"/keys/{item['name']}", body))
    if as_json:
        echo_json(loaded)
    else:
        click.echo(f"Loaded {len(loaded)} key(s).")


@key_group.command("generate-crypto-key")
@click.option("--path", "path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where (default: [datastore] crypto_key_path, else the data folder).")
@click.option("--force", is_flag=True,
              help="Replace an existing key (secrets stored with it can no longer be read).")
@click.option("-j", "--json", "as_json", is_flag=True, help="Print JSON.")
@config_options
def generate_crypto_key(path: Path | None, force: bool, as_json: bool,
                        config_file: str | None, config_dir: str | None) -> None:
    """Write a new key for the datastore's secrets (AES-256, file mode 0600)."""
    target = path or key_path_of(get_config(config_file, config_dir))
    if not crypto.write_key(target, overwrite=force):
        fail(f"{target} already exists: secrets stored with it would be lost (use --force "
             "to replace it anyway)")
    if as_json:
        echo_json({"path": str(target)})
    else:
        click.echo(f"Wrote the datastore's crypto key to {target}.")


def prepare_up(config: Config, engine: Engine) -> list[str]:
    """`levante up`: the crypto key, created in the data folder when missing."""
    del engine
    path = key_path_of(config)
    if crypto.write_key(path):
        return [f"Created the datastore's crypto key in {path}."]
    return []


def register(group: click.Group) -> None:
    group.add_command(key_group)
