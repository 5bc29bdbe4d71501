"""The services of the `engine` role (the REST API, the workers, the cron triggers) and
of the `notifier` role (the outbox delivery worker).

Each role builds its settings from the configuration once (`EngineSettings.from_config`)
and one `EngineRuntime` that its API, workers and cron service share."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from levante.config import Config
from levante.db import faults
from levante.engine.api.app import create_app
from levante.engine.core.cron import CronService
from levante.engine.core.runtime import EngineRuntime
from levante.engine.core.worker import EngineWorker
from levante.engine.platform_link.delivery import delivery_services
from levante.engine.retention import retention_service
from levante.engine.settings import EngineSettings
from levante.retention import Policy
from levante.service import HttpService, Service

log = logging.getLogger("levante.engine.service")


def engine_services(config: Config, engine: Engine,
                    settings: EngineSettings | None = None) -> list[Service]:
    """The engine role's services on `engine`; `settings` are those of `config` unless
    given (a test's, with a language of its own)."""
    runtime = EngineRuntime(engine, settings or EngineSettings.from_config(config))
    poll_interval = config.get_float("engine", "poll_interval")
    return [
        HttpService(
            "engine-api", create_app(runtime),
            config.get_str("engine", "host"), config.get_int("engine", "port"),
        ),
        EngineWorker(
            runtime,
            workers=config.get_int("engine", "workers"),
            poll_interval=poll_interval,
            write_retry=faults.retry_timeout(config),
        ),
        CronService(runtime, min(1.0, poll_interval)),
        retention_service(engine, Policy.from_config(config)),
    ]


def notifier_services(config: Config, engine: Engine) -> list[Service]:
    return list(delivery_services(config, engine))
