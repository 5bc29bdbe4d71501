"""The services of the `engine` role: the REST API, the workers, the cron triggers.

`notifier_services` returns the outbox delivery worker when it is available.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from sqlalchemy import Engine

from levante.config import Config
from levante.engine.step import SETTINGS
from levante.engine.worker import EngineWorker
from levante.service import HttpService, Service

log = logging.getLogger("levante.engine.service")


def configure_runtime(config: Config) -> None:
    """Process-wide runtime settings from the configuration."""
    SETTINGS.config = config
    SETTINGS.callback_base = config.public_url("engine")
    # Events are written when an execution asks for them (params.notify) or when the
    # notifier sends every event to configured webhooks.
    SETTINGS.events_always = bool(config.get_list("notifier", "webhooks"))
    try:
        from levante.engine import expressions

        expressions.set_default_timeout(config.get_float("engine", "expression_timeout"))
    except (ImportError, AttributeError, ValueError):
        pass


def _optional(module: str, attr: str) -> Any:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise
    return getattr(mod, attr, None)


def engine_services(config: Config, engine: Engine) -> list[Service]:
    configure_runtime(config)
    services: list[Service] = []
    create_app = _optional("levante.engine.api.app", "create_app")
    if create_app is not None:
        services.append(HttpService(
            "engine-api", create_app(config, engine),
            config.get_str("engine", "host"), config.get_int("engine", "port"),
        ))
    services.append(EngineWorker(
        engine,
        workers=config.get_int("engine", "workers"),
        poll_interval=config.get_float("engine", "poll_interval"),
    ))
    cron = _optional("levante.engine.cron", "CronService")
    if cron is not None:
        services.append(cron(config, engine))
    return services


def notifier_services(config: Config, engine: Engine) -> list[Service]:
    configure_runtime(config)
    factory = _optional("levante.engine.delivery", "delivery_services")
    if factory is not None:
        return list(factory(config, engine))
    return []
