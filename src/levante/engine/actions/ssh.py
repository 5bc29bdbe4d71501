"""``std.ssh``: run a command over SSH; the result is its standard output.

As in Mistral, the host key is not checked (there is no known-hosts store to check it
against), ``private_key_filename`` is relative to ``~/.ssh`` unless absolute, and
``password`` also unlocks an encrypted private key. A list of hosts gives a list of
outputs, in order. A non-zero exit status fails the action. ``std.ssh_proxied`` reaches
the hosts through an SSH gateway (a jump host), as Mistral's does.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from levante.engine.actions.base import REQUIRED, ActionContext, ActionError, StdAction, redact

KEY_DIR = Path("~/.ssh")
CONNECT_TIMEOUT = 30.0
STDERR_TAIL = 1000


class Ssh(StdAction):
    name = "std.ssh"
    description = "Runs a command on one or several hosts over SSH; the result is its stdout."
    input_spec = [
        ("cmd", REQUIRED),
        ("host", REQUIRED),
        ("username", REQUIRED),
        ("password", ""),
        ("private_key_filename", None),
        ("private_key", None),
        ("port", 22),
        ("timeout", None),
    ]
    secret_inputs = frozenset({"password", "private_key"})

    def check_input(self, values: dict[str, Any]) -> dict[str, Any]:
        for pname in ("cmd", "username"):
            if not isinstance(values[pname], str) or not values[pname]:
                raise self.input_error(pname, "must be a non-empty string")
        hosts = values["host"]
        host_list = hosts if isinstance(hosts, list) else [hosts]
        if not host_list or not all(isinstance(h, str) and h for h in host_list):
            raise self.input_error("host", "must be a host name or a list of host names")
        for pname in ("password", "private_key", "private_key_filename"):
            if values[pname] is not None and not isinstance(values[pname], str):
                raise self.input_error(pname, "must be a string")
        key_file = values["private_key_filename"]
        if key_file and ".." in Path(key_file).parts:
            raise self.input_error("private_key_filename", "must not contain '..'")
        port = values["port"]
        if isinstance(port, bool) or not isinstance(port, int | str):
            raise self.input_error("port", f"must be a port number, got {port!r}")
        try:
            values["port"] = int(port)
        except ValueError:
            raise self.input_error("port", f"must be a port number, got {port!r}") from None
        if not 0 < values["port"] < 65536:
            raise self.input_error("port", f"must be between 1 and 65535, got {port!r}")
        timeout = values["timeout"]
        if timeout is not None:
            try:
                values["timeout"] = float(timeout)
            except (TypeError, ValueError):
                raise self.input_error(
                    "timeout", f"must be a number of seconds, got {timeout!r}"
                ) from None
            if not values["timeout"] > 0 or math.isinf(values["timeout"]):
                raise self.input_error("timeout", f"must be more than 0, got {timeout!r}")
        return values

    async def run(self, input: Mapping[str, Any], ctx: ActionContext) -> Any:
        hosts = input["host"]
        secrets = [input.get("password"), input.get("private_key")]
        try:
            key = self._load_key(input)
            async with self._gateway(input, key) as tunnel:
                if not isinstance(hosts, list):
                    return await self._run_one(input, hosts, key, tunnel)
                return [await self._run_one(input, host, key, tunnel) for host in hosts]
        except ActionError as exc:
            raise ActionError(redact(str(exc.result), secrets)) from None
        except Exception as exc:  # the action's boundary: any failure fails the action
            detail = redact(str(exc) or type(exc).__name__, secrets)
            raise ActionError(f"Failed to execute ssh cmd {input['cmd']!r}: {detail}") from None

    @contextlib.asynccontextmanager
    async def _gateway(self, input: Mapping[str, Any], key: Any) -> AsyncIterator[Any]:
        """The SSH connection to reach hosts through; None: connect directly."""
        yield None

    def _load_key(self, input: Mapping[str, Any]) -> Any:
        # lazy: keeps CLI start fast (asyncssh loads only for SSH)
        from levante.ssh_support import asyncssh  # (late: asyncssh is slow to import)

        passphrase = input.get("password") or None
        try:
            if input.get("private_key"):
                return asyncssh.import_private_key(input["private_key"], passphrase)
            if input.get("private_key_filename"):
                path = Path(input["private_key_filename"])
                if not path.is_absolute():
                    path = KEY_DIR / path
                return asyncssh.read_private_key(path.expanduser(), passphrase)
        except (asyncssh.KeyImportError, ValueError):
            raise ActionError(
                f"{self.name} cannot use the private key: not a valid private key, "
                "or the password does not unlock it"
            ) from None
        except OSError as exc:
            raise ActionError(
                f"{self.name} cannot read private_key_filename "
                f"{input['private_key_filename']!r}: {exc.strerror or exc}"
            ) from None
        return None

    async def _run_one(
        self, input: Mapping[str, Any], host: str, key: Any, tunnel: Any
    ) -> str:
        timeout = input.get("timeout")
        try:
            return await asyncio.wait_for(self._exec(input, host, key, tunnel), timeout)
        except TimeoutError:
            raise ActionError(
                f"Failed to execute ssh cmd {input['cmd']!r} on {host}: "
                f"timed out after {timeout} seconds"
            ) from None

    async def _exec(self, input: Mapping[str, Any], host: str, key: Any, tunnel: Any) -> str:
        # lazy: keeps CLI start fast (asyncssh loads only for SSH)
        from levante.ssh_support import asyncssh  # (late: asyncssh is slow to import)

        cmd = input["cmd"]
        where = f"{input['username']}@{host}:{input['port']}"
        try:
            async with asyncssh.connect(
                host,
                port=input["port"],
                username=input["username"],
                password=input.get("password") or None,
                client_keys=[key] if key is not None else None,
                known_hosts=None,
                agent_path=None,
                config=None,
                connect_timeout=CONNECT_TIMEOUT,
                tunnel=tunnel if tunnel is not None else (),
            ) as conn:
                completed = await conn.run(cmd, check=False, encoding="utf-8", errors="replace")
        except asyncssh.PermissionDenied:
            raise ActionError(
                f"Failed to execute ssh cmd {cmd!r} on {host}: authentication failed for {where}"
            ) from None
        except (OSError, asyncssh.Error) as exc:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
            raise ActionError(
                f"Failed to execute ssh cmd {cmd!r} on {host}: cannot connect to {where}: "
                f"{reason or type(exc).__name__}"
            ) from None
        stdout = _text(completed.stdout)
        status = completed.exit_status
        if status != 0:
            how = (
                f"exit status {status}" if status is not None
                else f"signal {completed.exit_signal[0] if completed.exit_signal else '?'}"
            )
            stderr = _text(completed.stderr)[-STDERR_TAIL:].strip()
            detail = f"; stderr: {stderr}" if stderr else ""
            raise ActionError(f"Failed to execute ssh cmd {cmd!r} on {host}: {how}{detail}")
        return stdout


class SshProxied(Ssh):
    """``std.ssh``, reaching the hosts through an SSH gateway (a jump host)."""

    name = "std.ssh_proxied"
    description = "Runs a command over SSH on hosts reached through an SSH gateway."
    input_spec = [
        ("cmd", REQUIRED),
        ("host", REQUIRED),
        ("username", REQUIRED),
        ("private_key_filename", REQUIRED),
        ("gateway_host", REQUIRED),
        ("gateway_username", None),
        ("password", None),
        ("proxy_command", None),
        ("private_key", None),
        ("port", 22),
        ("gateway_port", 22),
        ("timeout", None),
    ]

    def check_input(self, values: dict[str, Any]) -> dict[str, Any]:
        values = super().check_input(values)
        if not isinstance(values["gateway_host"], str) or not values["gateway_host"]:
            raise self.input_error("gateway_host", "must be a host name")
        for pname in ("gateway_username", "proxy_command"):
            if values[pname] is not None and not isinstance(values[pname], str):
                raise self.input_error(pname, "must be a string")
        gateway_port = values["gateway_port"]
        try:
            values["gateway_port"] = int(gateway_port)
        except (TypeError, ValueError):
            raise self.input_error(
                "gateway_port", f"must be a port number, got {gateway_port!r}"
            ) from None
        if isinstance(gateway_port, bool) or not 0 < values["gateway_port"] < 65536:
            raise self.input_error("gateway_port", f"must be a port number, got {gateway_port!r}")
        return values

    @contextlib.asynccontextmanager
    async def _gateway(self, input: Mapping[str, Any], key: Any) -> AsyncIterator[Any]:
        # lazy: keeps CLI start fast (asyncssh loads only for SSH)
        from levante.ssh_support import asyncssh  # (late: asyncssh is slow to import)

        gateway = input["gateway_host"]
        username = input.get("gateway_username") or input["username"]
        where = f"{username}@{gateway}:{input['gateway_port']}"
        options: dict[str, Any] = {}
        if input.get("proxy_command"):
            options["proxy_command"] = input["proxy_command"]
        try:
            conn = await asyncssh.connect(
                gateway,
                port=input["gateway_port"],
                username=username,
                password=input.get("password") or None,
                client_keys=[key] if key is not None else None,
                known_hosts=None,
                agent_path=None,
                config=None,
                connect_timeout=CONNECT_TIMEOUT,
                **options,
            )
        except asyncssh.PermissionDenied:
            raise ActionError(
                f"Failed to execute ssh cmd {input['cmd']!r}: authentication failed for "
                f"the gateway {where}"
            ) from None
        except (OSError, asyncssh.Error) as exc:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
            raise ActionError(
                f"Failed to execute ssh cmd {input['cmd']!r}: cannot connect to the gateway "
                f"{where}: {reason or type(exc).__name__}"
            ) from None
        async with conn:
            yield conn


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
