"""The rest of StackStorm's core pack and runners, through the real `st2` CLI:
core.sendmail to an SMTP server on loopback, and the remote-shell-script runner against an
SSH/SFTP server on loopback (both started by the test)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.acceptance.platform.conftest import Platform
from tests.acceptance.platform.test_st2_cli import ST2, st2
from tests.conftest import free_port
from tests.integration.platform.runners.test_remote_runner import (
    PASSWORD,
    USER,
    Server,
    handle,
)

pytestmark = pytest.mark.skipif(
    not ST2.exists(), reason="st2client is not installed: run `make clients`"
)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Any]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.original_content or b"",
                                           policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@pytest.fixture
def smtp_port() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


@pytest.fixture
def ssh_port() -> Iterator[int]:
    """An SSH server with SFTP on loopback, in a thread of its own."""
    loop = asyncio.new_event_loop()
    started: dict[str, Any] = {}
    ready = threading.Event()

    async def start() -> None:
        server = await asyncssh.create_server(
            Server, "127.0.0.1", 0,
            server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
            process_factory=handle, sftp_factory=True)
        started["server"] = server
        started["port"] = server.sockets[0].getsockname()[1]
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    ready.wait(10)
    try:
        yield int(started["port"])
    finally:
        async def stop() -> None:
            started["server"].close()
            await started["server"].wait_closed()
        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


SCRIPT_PACK = {
    "pack.yaml": "name: remotepack\nversion: 1.0.0\n",
    "actions/show.yaml": (
        "name: show\nrunner_type: remote-shell-script\nentry_point: show.sh\n"
        "parameters:\n"
        "  first: {type: string, position: 0}\n"
        "  color: {type: string}\n"
        "  token: {type: string, secret: true}\n"),
    "actions/show.sh": (
        "#!/bin/bash\n"
        'echo "args: $*"\n'
        'echo "secret: $ST2_ACTION_SECRET_TOKEN"\n'
        'echo "in: $(dirname "$0")"\n'),
}


def test_sendmail_and_remote_script(platform: Platform, tmp_path: Path,
                                    smtp_port: tuple[int, Inbox], ssh_port: int) -> None:
    home = tmp_path / "home"
    home.mkdir()
    port, inbox = smtp_port
    sent = st2(platform, home, "run", "-j", "core.sendmail", "to=a@x.test, b@x.test",
               "from=robot@levante.test", "subject=Hello", "body=<b>hi</b>",
               "smtp_host=127.0.0.1", f"smtp_port={port}")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert json.loads(sent.stdout)["result"]["result"]["to"] == ["a@x.test", "b@x.test"]
    (rcpts, message), = inbox.messages
    assert rcpts == ["a@x.test", "b@x.test"] and message["Subject"] == "Hello"
    assert message["From"] == "robot@levante.test"
    assert message.get_content_type() == "text/html" and "<b>hi</b>" in message.get_content()

    for relative, text in SCRIPT_PACK.items():
        path = tmp_path / "packs" / "remotepack" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    registered = platform.levante("pack", "register", "remotepack")
    assert registered.returncode == 0, registered.stdout + registered.stderr
    remote_dir = tmp_path / "remote"
    remote_dir.mkdir()
    ran = st2(platform, home, "run", "-j", "remotepack.show", "first=one two", "color=red",
              "token=t0k3n-secret", f"hosts=127.0.0.1:{ssh_port}", f"username={USER}",
              f"password={PASSWORD}", f"dir={remote_dir}")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    result = json.loads(ran.stdout)["result"][f"127.0.0.1:{ssh_port}"]
    assert result["stdout"] == (f"args: one two --color=red\nsecret: t0k3n-secret\n"
                                f"in: {remote_dir}")
    assert result["succeeded"] is True
    assert list(remote_dir.iterdir()) == []  # the copied script is removed
    got = json.loads(st2(platform, home, "action", "get", "remotepack.show", "-j").stdout)
    assert got["runner_type"] == "remote-shell-script" and got["entry_point"] == "show.sh"
