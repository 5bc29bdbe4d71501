"""Make a real database refuse writes for a while, on SQLite and on PostgreSQL.

SQLite: ``chattr +i`` (immutable) on the database file and its ``-wal``. A plain
``chmod 0444`` is not enough: the tests run as root, which file permissions do not bind,
and permissions are checked only when a file is opened, never for the descriptors that
the services' pooled connections already hold. The immutable flag binds root too and is
checked on every write, so already-open connections fail at once (``disk I/O error``) and
connections opened meanwhile open read-only (``attempt to write a readonly database``) —
exactly a file that became read-only under running services. The ``-shm`` file is left
alone: SQLite maps it into memory, and a store to an immutable mapping kills the process
with SIGBUS (a crash, not a refusal to write). Another process holding
``BEGIN EXCLUSIVE`` was not chosen: writers would only wait out SQLite's busy timeout and
then go on, which does not show a refusal. The test is skipped where ``chattr`` cannot
set the flag (not root, or a file system without it).

PostgreSQL: ``ALTER DATABASE <the test's own database> SET default_transaction_read_only
= on`` and the sessions on that database terminated, so that every session (new ones, and
those the pools open again) is read-only: writes fail with SQLSTATE 25006. Only the test's
database is touched. ``RESET`` gives writes back (to sessions opened afterwards).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from levante.db.connect import is_sqlite, normalize_url, sqlite_path
from tests.conftest import postgres_server_url


def chattr_works(folder: Path) -> bool:
    probe = folder / "chattr-probe"
    probe.write_text("x", encoding="utf-8")
    try:
        done = subprocess.run(["chattr", "+i", str(probe)], capture_output=True, check=False)
        if done.returncode != 0:
            return False
        subprocess.run(["chattr", "-i", str(probe)], capture_output=True, check=True)
        return True
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


def _sqlite_files(url: str) -> list[str]:
    path = sqlite_path(normalize_url(url))
    assert path is not None
    return [str(path), f"{path}-wal"]


class Refusal:
    """Writes refused on ``urls`` between `start` and `stop`."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.active = False

    def start(self) -> None:
        for url in self.urls:
            if is_sqlite(url):
                files = [f for f in _sqlite_files(url) if Path(f).exists()]
                subprocess.run(["chattr", "+i", *files], check=True, capture_output=True)
            else:
                self._postgres(url, True)
        self.active = True

    def stop(self) -> None:
        if not self.active:
            return
        self.active = False
        for url in self.urls:
            if is_sqlite(url):
                files = [f for f in _sqlite_files(url) if Path(f).exists()]
                subprocess.run(["chattr", "-i", *files], check=True, capture_output=True)
            else:
                self._postgres(url, False)

    @staticmethod
    def _postgres(url: str, refuse: bool) -> None:
        server = postgres_server_url()
        assert server
        name = make_url(normalize_url(url)).database
        admin = create_engine(normalize_url(server), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                if refuse:
                    conn.execute(text(
                        f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
                    conn.execute(text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
                else:
                    conn.execute(text(
                        f'ALTER DATABASE "{name}" RESET default_transaction_read_only'))
        finally:
            admin.dispose()


@contextlib.contextmanager
def refused(urls: list[str]) -> Iterator[Refusal]:
    refusal = Refusal(urls)
    refusal.start()
    try:
        yield refusal
    finally:
        refusal.stop()


def need_refusal(url: str, folder: Path) -> None:
    """Skip when writes cannot be refused on this machine (see the module's text)."""
    if is_sqlite(url) and not chattr_works(folder):
        pytest.skip("refusing writes on SQLite needs `chattr +i` (root, ext4/xfs/btrfs)")
