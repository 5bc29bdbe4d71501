"""The secret shared by the engine's notifier (signs events) and the platform (verifies).

`[notifier] signing_secret` when set; otherwise one generated once into the data folder
(`notifier-signing-secret`, mode 0600), which both services read when they share it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from levante.config import Config
from levante.webhooks import generate_secret

SECRET_FILE = "notifier-signing-secret"


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
