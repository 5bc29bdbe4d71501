"""Pack environments: one virtual environment per pack that has a ``requirements.txt``.

The environment lives in ``<virtualenvs dir>/<pack>`` (``[packs] virtualenvs_path``, by
default ``<data_dir>/virtualenvs``) and is made with the platform's own Python: ``venv``
without pip (quick), then the platform's pip installs the requirements into it
(``pip --python``), with the options of ``[packs] pip_options`` (e.g. an offline
``--no-index --find-links=DIR``). A pack's Python actions run with that environment's
interpreter; a pack without ``requirements.txt`` needs none and runs with the platform's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from levante.config import Config

REQUIREMENTS = "requirements.txt"
_DONE_MARK = ".levante-ready"


class PackEnvError(RuntimeError):
    """The virtual environment of a pack could not be made; the message says why."""


@dataclass(frozen=True)
class PackEnvSettings:
    """Where environments live and how pip is called."""

    root: Path
    pip_options: list[str] = field(default_factory=list)
    timeout: float = 600.0


def needs_virtualenv(pack_path: Path | str) -> bool:
    return (Path(pack_path) / REQUIREMENTS).is_file()


def virtualenv_dir(root: Path | str, pack: str) -> Path:
    return Path(root) / pack


def virtualenv_python(root: Path | str, pack: str) -> Path | None:
    """The interpreter of the pack's environment, when it is set up completely."""
    folder = virtualenv_dir(root, pack)
    python = folder / "bin" / "python"
    if (folder / _DONE_MARK).is_file() and python.exists():
        return python
    return None


def _run(argv: list[str], what: str, timeout: float) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise PackEnvError(f"{what} took more than {timeout:g} seconds") from exc
    except OSError as exc:
        raise PackEnvError(f"{what} could not start: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise PackEnvError(f"{what} failed (exit {done.returncode}): " + " | ".join(tail))


def setup_virtualenv(settings: PackEnvSettings, pack: str, pack_path: Path | str) -> Path:
    """(Re)make the pack's environment and install its requirements; its folder.

    A failure leaves no half-made environment behind (it is removed) and raises
    :class:`PackEnvError`.
    """
    folder = virtualenv_dir(settings.root, pack)
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        _run([sys.executable, "-m", "venv", "--without-pip", str(folder)],
             f"Creating the virtual environment of pack {pack!r}", settings.timeout)
        requirements = Path(pack_path) / REQUIREMENTS
        if requirements.is_file():
            _run([sys.executable, "-m", "pip", "--python", str(folder / "bin" / "python"),
                  "install", "--disable-pip-version-check", "--no-input", "-q",
                  "-r", str(requirements), *settings.pip_options],
                 f"Installing the requirements of pack {pack!r}", settings.timeout)
        (folder / _DONE_MARK).write_text("", encoding="utf-8")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def ensure_virtualenv(settings: PackEnvSettings, pack: str, pack_path: Path | str) -> bool:
    """Set up the pack's environment when it needs one and has none; True when made."""
    if not needs_virtualenv(pack_path) or virtualenv_python(settings.root, pack):
        return False
    setup_virtualenv(settings, pack, pack_path)
    return True


def settings_from_config(config: Config) -> PackEnvSettings:
    return PackEnvSettings(
        root=config.virtualenvs_dir,
        pip_options=config.get_list("packs", "pip_options"),
        timeout=float(config.get_int("packs", "setup_timeout")),
    )
