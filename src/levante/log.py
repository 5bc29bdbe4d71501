"""Logging: one line per event with a timestamp, level, component and message."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from levante.config import Config

LINE_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s %(name)s %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"


def setup_logging(config: Config, level: str | None = None) -> None:
    """Send log lines to stderr and, when `[log] file` is set, to that file too."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    formatter = logging.Formatter(LINE_FORMAT, DATE_FORMAT)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(formatter)
    root.addHandler(stderr)
    log_file = config.get_str("log", "file")
    if log_file:
        path = Path(log_file).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(path, encoding="utf-8")
        file_handler.setFormatter(formatter)
        root.addHandler(file_handler)
    root.setLevel(level or config.get_str("log", "level"))
    for noisy in ("httpx", "httpcore", "asyncssh", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
