"""The sensor container role: runs each enabled pack sensor in a process of its own."""

from __future__ import annotations

from sqlalchemy import Engine

from levante.config import Config
from levante.service import Service


def sensorcontainer_services(config: Config, db: Engine) -> list[Service]:
    """The services of ``levante serve sensorcontainer`` (none yet: issue 13 in progress)."""
    return []
