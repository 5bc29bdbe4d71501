"""core.sendmail: an email sent through SMTP (StackStorm's uses the sendmail binary)."""

import mimetypes
import os
import re
import smtplib
from email.message import EmailMessage
from typing import Any

from st2common.runners.base_action import Action


class SendMail(Action):
    def run(self, to: str, subject: str, body: str, send_empty_body: bool = True,
            content_type: str = "text/html", attachments: str | None = None,
            smtp_host: str | None = None, smtp_port: int | None = None,
            smtp_username: str | None = None, smtp_password: str | None = None,
            smtp_starttls: bool = False, **others: Any) -> Any:
        sender = str(others.get("from") or "stanley")
        recipients = [r for r in re.split(r"[,\s]+", to or "") if r]
        if not recipients:
            return (False, "no recipient in 'to'")
        if not body and not send_empty_body:
            return {"sent": False, "reason": "empty body and send_empty_body is false"}
        message = EmailMessage()
        message["From"] = sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = subject
        subtype = "html" if content_type == "text/html" else "plain"
        message.set_content(body or "", subtype=subtype)
        for path in [p.strip() for p in (attachments or "").split(",") if p.strip()]:
            kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
            main, _, sub = kind.partition("/")
            with open(path, "rb") as fh:
                message.add_attachment(fh.read(), maintype=main, subtype=sub,
                                       filename=os.path.basename(path))
        host = smtp_host or self.config.get("smtp_host") or "localhost"
        port = int(smtp_port or self.config.get("smtp_port") or 25)
        with smtplib.SMTP(host, port, timeout=30) as smtp:
            if smtp_starttls:
                smtp.starttls()
            if smtp_username:
                smtp.login(smtp_username, smtp_password or "")
            refused = smtp.send_message(message, from_addr=sender, to_addrs=recipients)
        self.logger.info("mail to %s sent through %s:%s", ", ".join(recipients), host, port)
        return {"sent": True, "to": recipients, "subject": subject, "server": f"{host}:{port}",
                "refused": sorted(refused)}
