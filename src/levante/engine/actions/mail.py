"""``std.email``: send a message by SMTP; the result is null.

As in Mistral, a ``smtp_password`` makes the action switch to TLS (STARTTLS) and log in as
``from_addr``; the password is never sent in clear and never appears in an error.
``smtp_server`` is ``host`` or ``host:port``; without it, ``[engine] smtp_host`` is used.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Mapping
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from typing import Any

from levante.engine.actions.base import REQUIRED, ActionContext, ActionError, StdAction, redact

SMTP_TIMEOUT = 60.0
DEFAULT_PORT = 25


class Email(StdAction):
    name = "std.email"
    description = "Sends an email message through an SMTP server."
    input_spec = [
        ("from_addr", REQUIRED),
        ("to_addrs", REQUIRED),
        ("smtp_server", None),
        ("reply_to", None),
        ("cc_addrs", None),
        ("bcc_addrs", None),
        ("smtp_password", None),
        ("subject", None),
        ("body", None),
        ("html_body", None),
    ]
    secret_inputs = frozenset({"smtp_password"})

    def check_input(self, values: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(values["from_addr"], str) or "@" not in values["from_addr"]:
            raise self.input_error("from_addr", "must be an email address")
        values["to_addrs"] = self._addresses("to_addrs", values["to_addrs"])
        if not values["to_addrs"]:
            raise self.input_error("to_addrs", "must name at least one address")
        for pname in ("cc_addrs", "bcc_addrs", "reply_to"):
            values[pname] = self._addresses(pname, values[pname])
        for pname in ("smtp_server", "smtp_password", "subject", "body", "html_body"):
            if values[pname] is not None and not isinstance(values[pname], str):
                raise self.input_error(pname, "must be a string")
        if values["smtp_server"]:
            _host_port(values["smtp_server"], self)
        return values

    def _addresses(self, pname: str, value: Any) -> list[str]:
        if value is None or value == "":
            return []
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",")]
        if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
            raise self.input_error(pname, "must be an address or a list of addresses")
        out = [a.strip() for a in value if a.strip()]
        for address in out:
            if "@" not in address or "\n" in address or "\r" in address:
                raise self.input_error(pname, f"has an invalid address {address!r}")
        return out

    async def run(self, input: Mapping[str, Any], ctx: ActionContext) -> Any:
        server = input.get("smtp_server")
        if not server and ctx.config is not None:
            server = ctx.config.get_str("engine", "smtp_host")
        if not server:
            raise ActionError(
                "std.email needs an SMTP server: give smtp_server or set [engine] smtp_host"
            )
        host, port = _host_port(server, self)
        message = _message(input)
        recipients = input["to_addrs"] + input["cc_addrs"] + input["bcc_addrs"]
        password = input.get("smtp_password")
        try:
            await asyncio.to_thread(
                _send, host, port, input["from_addr"], password, recipients, message
            )
        except Exception as exc:  # the action's boundary: any failure fails the action
            detail = redact(_describe(exc), [password])
            raise ActionError(
                f"Failed to send an email message through {host}:{port}: {detail}"
            ) from None
        return None


def _host_port(server: str, action: StdAction) -> tuple[str, int]:
    host, sep, port_text = server.strip().rpartition(":")
    if not sep or "]" in port_text:
        return server.strip().strip("[]"), DEFAULT_PORT
    try:
        port = int(port_text)
    except ValueError:
        raise action.input_error(
            "smtp_server", f"must be host or host:port, got {server!r}"
        ) from None
    if not host or not 0 < port < 65536:
        raise action.input_error("smtp_server", f"must be host or host:port, got {server!r}")
    return host.strip("[]"), port


def _message(input: Mapping[str, Any]) -> str:
    subject = input.get("subject") or "<No subject>"
    body = input.get("body") or "<No body>"
    html_body = input.get("html_body")
    message: MIMEText | MIMEMultipart
    if html_body:
        message = MIMEMultipart("alternative")
        message.attach(MIMEText(body, "plain", "utf-8"))
        message.attach(MIMEText(html_body, "html", "utf-8"))
    else:
        message = MIMEText(body, "plain", "utf-8")
    message["Subject"] = Header(subject, "utf-8").encode()
    message["From"] = input["from_addr"]
    message["To"] = ", ".join(input["to_addrs"])
    if input.get("cc_addrs"):
        message["Cc"] = ", ".join(input["cc_addrs"])
    if input.get("reply_to"):
        message["Reply-To"] = ", ".join(input["reply_to"])
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid()
    return message.as_string()


def _send(
    host: str, port: int, sender: str, password: str | None, recipients: list[str], message: str
) -> None:
    with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT) as smtp:
        if password is not None:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise smtplib.SMTPNotSupportedError(
                    "the server does not offer STARTTLS; the password is not sent in clear"
                )
            # Mistral does not verify the server's certificate here; neither do we, so
            # servers with self-signed certificates keep working.
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            smtp.starttls(context=context)
            smtp.ehlo()
            smtp.login(sender, password)
        smtp.sendmail(sender, recipients, message)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        reply = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return f"{exc.smtp_code} {reply}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "all recipients were refused: " + ", ".join(sorted(exc.recipients))
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
