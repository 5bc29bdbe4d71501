"""How the platform authenticates to the engine API: with its service key (see
:mod:`levante.identity.keys`), made on first use and kept in the data folder as
``platform_api_key`` (mode 0600), asserting the user a call acts for when there is one."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from levante.config import Config
from levante.db import faults
from levante.identity import keys

PLATFORM_KEY_FILE = "platform_api_key"


def engine_headers(config: Config, db: Engine, user: str | None = None) -> dict[str, str]:
    """Headers for a call to the engine API (reads or makes the service key: call it off
    the event loop)."""
    headers = {keys.API_KEY_HEADER: keys.service_key(db, config.data_dir, "platform",
                                                     PLATFORM_KEY_FILE)}
    if user:
        headers[keys.ASSERTED_USER_HEADER] = user
    return headers


async def waited_engine_headers(config: Config, db: Engine, log: logging.Logger,
                                user: str | None = None, tag: str = "") -> dict[str, str]:
    """`engine_headers`, off the event loop, waiting out a database that refuses writes
    or drops its connections (for at most ``[database] write_retry_timeout``)."""
    return await faults.retry_writes_async(lambda: engine_headers(config, db, user),
                                           faults.retry_timeout(config), "the engine key",
                                           log, tag)
