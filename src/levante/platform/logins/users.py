"""The users file: ``name:bcrypt-hash`` per line, as Apache's ``htpasswd -B`` writes it.

Only bcrypt hashes (``$2a$``, ``$2b$``, ``$2y$``) are accepted; a line in another format is
skipped with a warning naming its line number (never its content). The file is read again
when its modification time or size changes, so ``levante user add`` takes effect at once
in running processes.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from levante.config import Config

log = logging.getLogger("levante.platform.logins")

NAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,255}$")
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
ROUNDS = 12


class UsersFileError(Exception):
    """A users file or a user name that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class _Snapshot:
    stamp: tuple[int, int]
    hashes: dict[str, bytes]


@functools.cache
def _dummy() -> bytes:
    """Checked when the user does not exist, so that a wrong name costs as long as a wrong
    password (made on first use: it costs a bcrypt round)."""
    return bcrypt.hashpw(b"levante-no-such-user", bcrypt.gensalt(ROUNDS))


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size


def _parse(path: Path) -> dict[str, bytes]:
    hashes: dict[str, bytes] = {}
    text = path.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, digest = line.partition(":")
        if not sep or not NAME.match(name) or not digest.startswith(BCRYPT_PREFIXES):
            log.warning("%s line %d: not a user with a bcrypt hash (htpasswd -B); skipped",
                        path, number)
            continue
        hashes[name] = digest.encode("ascii", "replace")
    return hashes


def read_users(path: Path) -> dict[str, bytes]:
    """User name -> bcrypt hash; empty when the file does not exist."""
    return UsersFile(path).read()


class UsersFile:
    """The users file as a login gate checks passwords against it: parsed again only when
    its modification time or size changed (the parse is kept here, by its user)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None

    def read(self) -> dict[str, bytes]:
        """User name -> bcrypt hash; empty when the file does not exist."""
        stamp = _stamp(self.path)
        if stamp is None:
            return {}
        with self._lock:
            hit = self._snapshot
        if hit and hit.stamp == stamp:
            return hit.hashes
        hashes = _parse(self.path)
        with self._lock:
            self._snapshot = _Snapshot(stamp, hashes)
        return hashes

    def check(self, name: str, password: str) -> bool:
        """Whether `password` is `name`'s (slow on purpose: bcrypt; call it off the event
        loop)."""
        digest = self.read().get(name)
        given = password.encode("utf-8")
        if digest is None:
            bcrypt.checkpw(given, _dummy())
            return False
        try:
            return bcrypt.checkpw(given, digest)
        except ValueError:  # a damaged hash
            log.warning("%s: the hash of user %s cannot be read; login refused", self.path,
                        name)
            return False


def check_password(path: Path, name: str, password: str) -> bool:
    """Whether `password` is `name`'s in the file at `path` (read now; a login gate keeps
    a `UsersFile`)."""
    return UsersFile(path).check(name, password)


def hash_password(password: str, rounds: int = ROUNDS) -> str:
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")


def _check_name(name: str) -> None:
    if not NAME.match(name):
        raise UsersFileError(f'user name "{name}" is not allowed: use 1 to 255 letters, '
                             "digits and . _ @ + -")


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))
    os.replace(tmp, path)


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


def set_password(path: Path, name: str, password: str, *, create: bool) -> None:
    """Add user `name` (`create`) or change their password; other lines are kept as they are."""
    _check_name(name)
    if not password:
        raise UsersFileError("the password must not be empty")
    lines = _lines(path)
    entry = f"{name}:{hash_password(password)}"
    index = next((i for i, line in enumerate(lines) if line.partition(":")[0] == name), None)
    if create and index is not None:
        raise UsersFileError(f'user "{name}" already exists in {path}; use `levante user '
                             "passwd` to change the password")
    if not create and index is None:
        raise UsersFileError(f'user "{name}" is not in {path}')
    if index is None:
        lines.append(entry)
    else:
        lines[index] = entry
    _write(path, lines)


def delete_user(path: Path, name: str) -> None:
    lines = _lines(path)
    kept = [line for line in lines if line.partition(":")[0] != name]
    if len(kept) == len(lines):
        raise UsersFileError(f'user "{name}" is not in {path}')
    _write(path, kept)


def users_path(config: Config) -> Path:
    """``[auth] users_file``, else ``htpasswd`` in the data folder."""
    path = config.get_str("auth", "users_file")
    return Path(path).expanduser() if path else config.data_dir / "htpasswd"
