"""The services of the `engine` role (the REST API, the workers, the cron triggers) and
of the `notifier` role (the outbox delivery worker)."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from levante.config import Config
from levante.db import faults
from levante.engine import expressions
from levante.engine.api.app import create_app
from levante.engine.cron import CronService
from levante.engine.platform_link.delivery import delivery_services
from levante.engine.retention import retention_service
from levante.engine.step import SETTINGS
from levante.engine.worker import EngineWorker
from levante.retention import Policy
from levante.service import HttpService, Service

log = logging.getLogger("levante.engine.service")


def configure_runtime(config: Config) -> None:
    """Process-wide runtime settings from the configuration."""
    SETTINGS.config = config
    SETTINGS.callback_base = config.public_url("engine")
    # Events are written when an execution asks for them (params.notify) or when the
    # notifier sends every event to configured webhooks.
    SETTINGS.events_always = bool(config.get_list("notifier", "webhooks"))
    expressions.set_default_timeout(config.get_float("engine", "expression_timeout"))
    SETTINGS.max_attempts = config.get_int("engine", "max_step_attempts")


def engine_services(config: Config, engine: Engine) -> list[Service]:
    configure_runtime(config)
    return [
        HttpService(
            "engine-api", create_app(config, engine),
            config.get_str("engine", "host"), config.get_int("engine", "port"),
        ),
        EngineWorker(
            engine,
            workers=config.get_int("engine", "workers"),
            poll_interval=config.get_float("engine", "poll_interval"),
            write_retry=faults.retry_timeout(config),
        ),
        CronService(config, engine),
        retention_service(engine, Policy.from_config(config)),
    ]


def notifier_services(config: Config, engine: Engine) -> list[Service]:
    configure_runtime(config)
    return list(delivery_services(config, engine))
