"""The rules engine role: claims pending trigger instances and enforces matching rules."""

from __future__ import annotations

from sqlalchemy import Engine

from levante.config import Config
from levante.service import Service


def rulesengine_services(config: Config, db: Engine) -> list[Service]:
    """The services of ``levante serve rulesengine`` (none yet: issue 13 in progress)."""
    return []
