"""std.ssh against a real asyncssh server on loopback that runs commands in a real shell."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from levante.engine.actions import ActionContext, ActionError, get_action

USER = "operator"
PASSWORD = "correct-horse-battery"
HOST_KEY = asyncssh.generate_private_key("ssh-ed25519")
CLIENT_KEY = asyncssh.generate_private_key("ssh-ed25519")
OTHER_KEY = asyncssh.generate_private_key("ssh-ed25519")


class Server(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == USER and password == PASSWORD

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == USER and key.export_public_key() == CLIENT_KEY.export_public_key()


async def run_command(process: asyncssh.SSHServerProcess[str]) -> None:
    proc = await asyncio.create_subprocess_shell(
        process.command or "true",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    process.stdout.write(out.decode())
    process.stderr.write(err.decode())
    process.exit(proc.returncode or 0)


def with_server(scenario: Callable[[int], Awaitable[Any]]) -> Any:
    """Start an SSH server on a free loopback port, run ``scenario(port)``, stop it."""
    return asyncio.run(serve_and(scenario))


def ssh(**input: Any) -> Any:
    async def scenario(port: int) -> Any:
        values = {"host": "127.0.0.1", "username": USER, "port": port, **input}
        return await get_action("std.ssh").call(values, ActionContext())

    return with_server(scenario)


def test_password_auth_returns_stdout() -> None:
    assert ssh(cmd="echo hello; echo world", password=PASSWORD) == "hello\nworld\n"


def test_private_key_text() -> None:
    key = CLIENT_KEY.export_private_key().decode()
    assert ssh(cmd="printf key", private_key=key) == "key"


def test_private_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "id_test"
    CLIENT_KEY.write_private_key(str(key_file))
    assert ssh(cmd="printf file", private_key_filename=str(key_file)) == "file"


def test_encrypted_private_key_unlocked_by_password() -> None:
    key = CLIENT_KEY.export_private_key("pkcs8-pem", passphrase="unlock-me").decode()
    assert ssh(cmd="printf enc", private_key=key, password="unlock-me") == "enc"


def test_wrong_password_fails_without_showing_it() -> None:
    with pytest.raises(ActionError) as info:
        ssh(cmd="true", password="wrong-password-987")
    assert "authentication failed" in str(info.value)
    assert "wrong-password-987" not in str(info.value)


def test_unknown_key_is_refused() -> None:
    key = OTHER_KEY.export_private_key().decode()
    with pytest.raises(ActionError, match="authentication failed") as info:
        ssh(cmd="true", private_key=key)
    assert key not in str(info.value)


def test_bad_private_key_text() -> None:
    with pytest.raises(ActionError, match="not a valid private key") as info:
        ssh(cmd="true", private_key="-----BEGIN nonsense-----")
    assert "nonsense" not in str(info.value)


def test_non_zero_exit_is_an_error() -> None:
    with pytest.raises(ActionError) as info:
        ssh(cmd="echo partial; echo broken >&2; exit 3", password=PASSWORD)
    message = str(info.value)
    assert "exit status 3" in message
    assert "broken" in message


def test_list_of_hosts_gives_list_of_outputs() -> None:
    result = ssh(cmd="printf x", host=["127.0.0.1", "localhost"], password=PASSWORD)
    assert result == ["x", "x"]


def test_timeout() -> None:
    with pytest.raises(ActionError, match=r"timed out after 0\.5 seconds"):
        ssh(cmd="sleep 5", password=PASSWORD, timeout=0.5)


def test_connection_refused(port: int) -> None:
    with pytest.raises(ActionError, match="cannot connect"):
        asyncio.run(
            get_action("std.ssh").call(
                {"cmd": "true", "host": "127.0.0.1", "port": port, "username": USER,
                 "password": PASSWORD},
                ActionContext(),
            )
        )


def test_encrypted_private_key_with_wrong_password() -> None:
    key = CLIENT_KEY.export_private_key("pkcs8-pem", passphrase="unlock-me").decode()
    with pytest.raises(ActionError, match="does not unlock it") as info:
        ssh(cmd="true", private_key=key, password="not-the-passphrase")
    assert "not-the-passphrase" not in str(info.value)


def test_private_key_filename_relative_to_home_ssh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".ssh").mkdir()
    CLIENT_KEY.write_private_key(str(tmp_path / ".ssh" / "id_levante"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert ssh(cmd="printf home", private_key_filename="id_levante") == "home"
    with pytest.raises(ActionError, match="cannot read private_key_filename"):
        ssh(cmd="true", private_key_filename="id_missing")


FORWARDED: list[tuple[str, int]] = []


class Gateway(Server):
    """A jump host: allows forwarding to any address, and records where to."""

    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> bool:
        FORWARDED.append((dest_host, dest_port))
        return True


def ssh_proxied(**input: Any) -> Any:
    async def main() -> Any:
        gateway = await asyncssh.create_server(
            Gateway, "127.0.0.1", 0, server_host_keys=[HOST_KEY]
        )
        gateway_port = gateway.sockets[0].getsockname()[1]

        async def scenario(port: int) -> Any:
            values = {
                "host": "127.0.0.1", "username": USER, "port": port,
                "gateway_host": "127.0.0.1", "gateway_port": gateway_port,
                "private_key_filename": None, **input,
            }
            return await get_action("std.ssh_proxied").call(values, ActionContext())

        try:
            return await serve_and(scenario)
        finally:
            gateway.close()
            await gateway.wait_closed()

    return asyncio.run(main())


async def serve_and(scenario: Callable[[int], Awaitable[Any]]) -> Any:
    server = await asyncssh.create_server(
        Server, "127.0.0.1", 0, server_host_keys=[HOST_KEY], process_factory=run_command
    )
    try:
        return await scenario(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


def test_proxied_through_a_gateway() -> None:
    FORWARDED.clear()
    key = CLIENT_KEY.export_private_key().decode()
    assert ssh_proxied(cmd="printf via-gateway", private_key=key) == "via-gateway"
    assert len(FORWARDED) == 1 and FORWARDED[0][0] == "127.0.0.1"


def test_proxied_gateway_refuses_login() -> None:
    with pytest.raises(ActionError, match="authentication failed for the gateway") as info:
        ssh_proxied(cmd="true", password="bad-gateway-pw", gateway_username="nobody")
    assert "bad-gateway-pw" not in str(info.value)


def test_proxied_non_zero_exit() -> None:
    with pytest.raises(ActionError, match="exit status 7"):
        ssh_proxied(cmd="exit 7", password=PASSWORD)
