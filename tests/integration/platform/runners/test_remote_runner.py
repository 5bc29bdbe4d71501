"""remote-shell-cmd against an asyncssh server on loopback that the test starts."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncssh

from levante.platform.core.packs import BUNDLED_PACKS_DIR, ActionMeta, load_pack
from levante.platform.runners import RunOutcome, run_action

from .helpers import Output, request, run

USER, PASSWORD = "ops", "s3cret-pw"
CLIENT_KEY = asyncssh.generate_private_key("ssh-ed25519")


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
        return username == USER and key.export_public_key() == \
            CLIENT_KEY.export_public_key()


async def _copy(reader: asyncio.StreamReader, writer: Any) -> None:
    while chunk := await reader.read(4096):
        writer.write(chunk.decode())


async def handle(process: asyncssh.SSHServerProcess) -> None:
    """Run the command on this machine, as sshd would, and relay its output."""
    local = await asyncio.create_subprocess_exec(
        "bash", "-c", process.command or "", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
        start_new_session=True)
    assert local.stdout is not None and local.stderr is not None
    try:
        await asyncio.gather(_copy(local.stdout, process.stdout),
                             _copy(local.stderr, process.stderr))
        process.exit(await local.wait())
    finally:
        if local.returncode is None:
            local.kill()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(asyncio.shield(local.wait()), 2)


def with_server(scenario: Callable[[int], Awaitable[RunOutcome]]) -> RunOutcome:
    async def main() -> RunOutcome:
        server = await asyncssh.create_server(
            Server, "127.0.0.1", 0, server_host_keys=[asyncssh.generate_private_key(
                "ssh-ed25519")], process_factory=handle)
        port = server.sockets[0].getsockname()[1]
        try:
            return await scenario(port)
        finally:
            server.close()
            await server.wait_closed()
    return run(main())


def core_remote() -> ActionMeta:
    _, actions, _ = load_pack(BUNDLED_PACKS_DIR / "core")
    return next(a for a in actions if a.ref == "core.remote")


def test_command_on_one_host_with_password(tmp_path: Path) -> None:
    out = Output()

    async def scenario(port: int) -> RunOutcome:
        req = request(core_remote(), {
            "hosts": "127.0.0.1", "port": port, "username": USER, "password": PASSWORD,
            "cmd": 'echo "$GREET from $(pwd)"; echo warn >&2', "env": {"GREET": "hi there"},
            "cwd": str(tmp_path)})
        return await run_action(req, out)

    outcome = with_server(scenario)
    assert outcome.status == "succeeded", outcome.result
    assert outcome.result == {"127.0.0.1": {
        "stdout": f"hi there from {tmp_path}", "stderr": "warn", "return_code": 0,
        "succeeded": True, "failed": False}}
    assert ("stdout", f"hi there from {tmp_path}\n") in out.chunks


def test_several_hosts_with_private_key_and_a_failure() -> None:
    key = CLIENT_KEY.export_private_key().decode()
    ports: list[int] = []

    async def scenario(port: int) -> RunOutcome:
        ports.append(port)
        req = request(core_remote(), {
            "hosts": f"127.0.0.1:{port},localhost:{port}", "username": USER,
            "private_key": key, "cmd": "echo on-host; exit 2"})
        return await run_action(req, Output())

    outcome = with_server(scenario)
    assert outcome.status == "failed"
    assert set(outcome.result) == {f"127.0.0.1:{ports[0]}", f"localhost:{ports[0]}"}
    for entry in outcome.result.values():
        assert entry["stdout"] == "on-host" and entry["return_code"] == 2
        assert entry["failed"] is True


def test_wrong_password_fails_without_showing_it() -> None:
    async def scenario(port: int) -> RunOutcome:
        req = request(core_remote(), {"hosts": f"127.0.0.1:{port}", "username": USER,
                                      "password": "wrong-pw-123", "cmd": "true"})
        return await run_action(req, Output())

    outcome = with_server(scenario)
    assert outcome.status == "failed"
    (entry,) = outcome.result.values()
    assert entry["failed"] is True and "SSH to 127.0.0.1" in entry["error"]
    assert "wrong-pw-123" not in str(outcome.result)


def test_timeout() -> None:
    async def scenario(port: int) -> RunOutcome:
        req = request(core_remote(), {"hosts": "127.0.0.1", "port": port, "username": USER,
                                      "password": PASSWORD, "cmd": "sleep 20"}, timeout=0.8)
        return await run_action(req, Output())

    started = time.monotonic()
    outcome = with_server(scenario)
    assert time.monotonic() - started < 5
    assert outcome.status == "timeout"
    assert outcome.result["127.0.0.1"]["return_code"] == -9


def test_bad_hosts_parameter() -> None:
    req = request(core_remote(), {"hosts": "h:notaport", "cmd": "true"})
    outcome = run(run_action(req, Output()))
    assert outcome.status == "failed" and "'hosts'" in outcome.result["error"]


def test_cancel_reraises_and_closes_the_session() -> None:
    async def scenario(port: int) -> RunOutcome:
        out = Output()
        req = request(core_remote(), {"hosts": "127.0.0.1", "port": port, "username": USER,
                                      "password": PASSWORD, "cmd": "echo ready; sleep 20"})
        task = asyncio.create_task(run_action(req, out))
        await out.wait_for("ready")
        task.cancel()
        started = time.monotonic()
        try:
            await task
        except asyncio.CancelledError:
            assert time.monotonic() - started < 2
            return RunOutcome("canceled", None)
        raise AssertionError("the cancellation was swallowed")

    assert with_server(scenario).status == "canceled"
