"""Logging: one line per event, timestamp, level, component, message; optional file."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from levante.config import load_config
from levante.log import setup_logging

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} WARNING levante\.test hello world$")


def test_lines_go_to_the_configured_file(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "levante.log"
    config = load_config(environ={"LEVANTE_LOG_FILE": str(log_file), "LEVANTE_LOG_LEVEL": "INFO"})
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        setup_logging(config)
        logging.getLogger("levante.test").warning("hello %s", "world")
        logging.getLogger("levante.test").debug("not shown")
        for handler in logging.getLogger().handlers:
            handler.flush()
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    lines = log_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    assert LINE.match(lines[0]), lines[0]
