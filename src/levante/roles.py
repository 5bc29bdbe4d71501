"""The role table: which services a process runs for `levante serve ROLE` (and `levante up`,
which runs every role in one process).

Each role has its factory, "module:function" with function(config, engine) -> the services
(see `levante.service`); they are imported only when the role is served, so that a process
loads only its own role's code. A feature package that runs a loop (its ``service.py``)
joins a role with one line in `FEATURE_SERVICES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from levante.config import Config
from levante.service import Service

ServiceFactory = Callable[[Config, Engine], Sequence[Service]]

# role -> "module:factory"
ROLES: dict[str, str] = {
    "api": "levante.platform.service:api_services",
    "engine": "levante.engine.service:engine_services",
    "notifier": "levante.engine.service:notifier_services",
    "runner": "levante.platform.service:runner_services",
    "resultstracker": "levante.platform.service:resultstracker_services",
    "garbagecollector": "levante.platform.service:garbagecollector_services",
    "rulesengine": "levante.platform.rules.service:rulesengine_services",
    "sensorcontainer": "levante.platform.sensors.service:sensorcontainer_services",
}

# (role, "module:factory") of the feature packages' services, one line per feature.
FEATURE_SERVICES: tuple[tuple[str, str], ...] = (
    ("rulesengine", "levante.platform.timers.service:timer_services"),
)


def _load(spec: str) -> ServiceFactory:
    module_name, _, attr = spec.partition(":")
    factory: ServiceFactory = getattr(importlib.import_module(module_name), attr)
    return factory


def role_factories(role: str) -> list[ServiceFactory]:
    """The role's own factory, then those of the features that join it."""
    return [_load(ROLES[role])] + [_load(spec) for joined, spec in FEATURE_SERVICES
                                   if joined == role]


def role_services(role: str, config: Config, engine: Engine) -> list[Service]:
    """The services one process runs for ``role``."""
    return [service for factory in role_factories(role) for service in factory(config, engine)]
