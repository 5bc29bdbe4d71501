"""std.email against a real aiosmtpd server on loopback (plain, and STARTTLS with login)."""

from __future__ import annotations

import asyncio
import datetime
import email
import email.policy
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from levante.config import load_config
from levante.engine.actions import ActionContext, ActionError, get_action
from tests.conftest import free_port

SENDER = "robot@levante.test"
PASSWORD = "smtp-pass-Xy9"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Inbox:
    messages: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), message)
        )
        return "250 OK"


def authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SENDER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


def tls_context(tmp_path: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture
def plain_smtp() -> Iterator[tuple[str, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield f"127.0.0.1:{controller.port}", inbox
    finally:
        controller.stop()


@pytest.fixture
def tls_smtp(tmp_path: Path) -> Iterator[tuple[str, Inbox]]:
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=tls_context(tmp_path),
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    try:
        yield f"127.0.0.1:{controller.port}", inbox
    finally:
        controller.stop()


def send(input: dict[str, Any], ctx: ActionContext | None = None) -> Any:
    return asyncio.run(get_action("std.email").call(input, ctx or ActionContext()))


def test_plain_message_arrives(plain_smtp: tuple[str, Inbox]) -> None:
    server, inbox = plain_smtp
    result = send({
        "from_addr": SENDER,
        "to_addrs": ["ops@example.test", "dev@example.test"],
        "cc_addrs": ["boss@example.test"],
        "bcc_addrs": ["audit@example.test"],
        "reply_to": ["help@example.test"],
        "subject": "Deploy finished ✓",
        "body": "All 3 hosts are up.",
        "smtp_server": server,
    })
    assert result is None
    [received] = inbox.messages
    assert received.mail_from == SENDER
    assert sorted(received.rcpt_tos) == sorted([
        "ops@example.test", "dev@example.test", "boss@example.test", "audit@example.test",
    ])
    message = received.message
    assert message["Subject"] == "Deploy finished ✓"
    assert message["From"] == SENDER
    assert message["To"] == "ops@example.test, dev@example.test"
    assert message["Cc"] == "boss@example.test"
    assert message["Reply-To"] == "help@example.test"
    assert "audit@example.test" not in message.as_string()
    assert message.get_content().strip() == "All 3 hosts are up."


def test_html_body_gives_alternative_parts(plain_smtp: tuple[str, Inbox]) -> None:
    server, inbox = plain_smtp
    send({
        "from_addr": SENDER,
        "to_addrs": "one@example.test",
        "subject": "Report",
        "body": "plain version",
        "html_body": "<p>html version</p>",
        "smtp_server": server,
    })
    [received] = inbox.messages
    assert received.rcpt_tos == ["one@example.test"]
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().strip() == "plain version"
    assert html.get_content().strip() == "<p>html version</p>"


def test_defaults_for_subject_and_body(plain_smtp: tuple[str, Inbox]) -> None:
    server, inbox = plain_smtp
    send({"from_addr": SENDER, "to_addrs": ["x@example.test"], "smtp_server": server})
    message = inbox.messages[0].message
    assert message["Subject"] == "<No subject>"
    assert message.get_content().strip() == "<No body>"


def test_smtp_server_from_config(plain_smtp: tuple[str, Inbox]) -> None:
    server, inbox = plain_smtp
    config = load_config(environ={}).with_overrides({("engine", "smtp_host"): server})
    send({"from_addr": SENDER, "to_addrs": ["x@example.test"]}, ActionContext(config=config))
    assert len(inbox.messages) == 1


def test_no_smtp_server_at_all_is_a_clear_error() -> None:
    with pytest.raises(ActionError, match=r"smtp_server .*\[engine\] smtp_host"):
        send({"from_addr": SENDER, "to_addrs": ["x@example.test"]})


def test_starttls_and_login(tls_smtp: tuple[str, Inbox]) -> None:
    server, inbox = tls_smtp
    send({
        "from_addr": SENDER,
        "to_addrs": ["secure@example.test"],
        "subject": "Over TLS",
        "body": "secret plans",
        "smtp_server": server,
        "smtp_password": PASSWORD,
    })
    [received] = inbox.messages
    assert received.message["Subject"] == "Over TLS"
    assert received.rcpt_tos == ["secure@example.test"]


def test_wrong_password_fails_without_showing_it(tls_smtp: tuple[str, Inbox]) -> None:
    server, inbox = tls_smtp
    with pytest.raises(ActionError) as info:
        send({
            "from_addr": SENDER,
            "to_addrs": ["secure@example.test"],
            "smtp_server": server,
            "smtp_password": "wrong-pass-123",
        })
    assert "Failed to send an email message" in str(info.value)
    assert "535" in str(info.value)
    assert "wrong-pass-123" not in str(info.value)
    assert inbox.messages == []


def test_password_not_sent_without_starttls(plain_smtp: tuple[str, Inbox]) -> None:
    server, inbox = plain_smtp
    with pytest.raises(ActionError, match="STARTTLS") as info:
        send({
            "from_addr": SENDER,
            "to_addrs": ["x@example.test"],
            "smtp_server": server,
            "smtp_password": PASSWORD,
        })
    assert PASSWORD not in str(info.value)
    assert inbox.messages == []


def test_unreachable_server(port: int) -> None:
    with pytest.raises(ActionError, match=f"127.0.0.1:{port}"):
        send({"from_addr": SENDER, "to_addrs": ["x@example.test"],
              "smtp_server": f"127.0.0.1:{port}"})
