"""Standard Webhooks signatures: HMAC-SHA256 over `<id>.<timestamp>.<body>`, and the
secret both services share.

The engine's notifier signs every event it delivers; the platform's receiver verifies
them. Secrets are `whsec_<base64>` strings; `generate_secret()` makes one. The shared one
is `[notifier] signing_secret` when set; otherwise one generated once into the data folder
(`notifier-signing-secret`, mode 0600), which both services read when they share it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path

from levante.config import Config

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE = 300.0
SECRET_FILE = "notifier-signing-secret"


class SignatureError(Exception):
    """A delivery whose headers are missing, stale or do not match the secret."""


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
        except ValueError:
            raise SignatureError("the signing secret is not valid base64") from None
    return secret.encode("utf-8")


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one delivery."""
    signed = message_id.encode("utf-8") + b"." + str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signed_headers(
    secret: str, message_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for a delivery of `body`."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, message_id, ts, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> str:
    """Check a delivery's headers against `secret`; return its message id or raise."""
    lowered = {k.lower(): v for k, v in headers.items()}
    missing = [h for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
               if not lowered.get(h)]
    if missing:
        raise SignatureError("missing header(s): " + ", ".join(missing))
    message_id = lowered["webhook-id"]
    try:
        timestamp = int(lowered["webhook-timestamp"])
    except ValueError:
        raise SignatureError("webhook-timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError(f"webhook-timestamp is more than {tolerance:g} s away from now")
    expected = sign(secret, message_id, timestamp, body).split(",", 1)[1]
    for candidate in lowered["webhook-signature"].split():
        version, _, value = candidate.partition(",")
        if version == SIGNATURE_VERSION and hmac.compare_digest(value, expected):
            return message_id
    raise SignatureError("no signature matches")


def secret_path(config: Config) -> Path:
    return config.data_dir / SECRET_FILE


def signing_secret(config: Config) -> str:
    """The configured secret, else the data folder's (made at the first call)."""
    configured = config.get_str("notifier", "signing_secret")
    if configured:
        return configured
    path = secret_path(config)
    with contextlib.suppress(FileNotFoundError):
        existing = path.read_text(encoding="utf-8").strip()
        if existing:
            return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = generate_secret()
    tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(candidate + "\n")
    try:
        # link() fails when another process won the race: then its secret is the one.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8").strip()
