"""Installing a pack: copy it from a local folder or a git repository into a pack folder."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from levante.platform.core.packs import PackLoadFailed, read_pack_meta

GIT_TIMEOUT = 300.0
_IGNORED = shutil.ignore_patterns(".git", "__pycache__", "*.pyc")


class PackInstallError(RuntimeError):
    """The pack could not be installed; the message says why."""


def _is_git_url(source: str) -> bool:
    return (source.startswith(("git@", "git://", "ssh://", "http://", "https://", "file://"))
            or source.endswith(".git"))


def _clone(source: str, into: Path) -> None:
    try:
        done = subprocess.run(["git", "clone", "--depth", "1", "--quiet", "--", source,
                               str(into)], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PackInstallError(f"git clone of {source} failed: {exc}") from exc
    if done.returncode != 0:
        raise PackInstallError(f"git clone of {source} failed: {done.stderr.strip()}")


def fetch_pack(source: str, packs_dir: str | Path, force: bool = False) -> tuple[str, Path]:
    """Copy the pack at ``source`` (a folder, or a git URL cloned with ``git``) into
    ``packs_dir/<pack name>``; its name and new folder."""
    with tempfile.TemporaryDirectory(prefix="levante-pack-") as tmp:
        local = Path(source).expanduser()
        if local.is_dir() and (local / "pack.yaml").is_file():
            origin = local.resolve()
        elif _is_git_url(source) or (local / "HEAD").is_file():  # a URL or a bare repo
            origin = Path(tmp) / "clone"
            _clone(source, origin)
        else:
            raise PackInstallError(f"{source} is neither a folder nor a git URL")
        try:
            meta = read_pack_meta(origin)
        except PackLoadFailed as exc:
            raise PackInstallError(str(exc)) from exc
        target = Path(packs_dir).expanduser() / meta.name
        if target.exists():
            if not force:
                raise PackInstallError(
                    f"{target} already exists (pack {meta.name}); --force replaces it")
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(origin, target, ignore=_IGNORED, symlinks=True)
    return meta.name, target
