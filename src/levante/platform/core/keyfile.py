"""The API key file in the data folder: written by `levante up`, read by the CLI.

Kept apart from `auth` so that the CLI can find its key without importing the database.
"""

from __future__ import annotations

from pathlib import Path

KEY_FILE_NAME = "api_key"


def write_key_file(data_dir: Path, key: str) -> Path:
    """Keep the first key where the CLI looks for it (readable by the owner only)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / KEY_FILE_NAME
    path.write_text(key + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def read_key_file(data_dir: Path) -> str | None:
    path = data_dir / KEY_FILE_NAME
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return key or None
