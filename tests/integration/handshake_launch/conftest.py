"""In-process engine and platform served on loopback for the launch and report tests:
the engine's API and worker, the notifier, the platform's API; one migrated database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from levante.config import Config
from levante.db.connect import make_engine
from levante.platform.core.pack_registry import register_packs
from levante.platform.service import ensure_api_key
from levante.platform.workflows import launch as workflow_launch
from tests.conftest import free_port
from tests.integration.handshake.support import Background, ServedApp, config_for

FAST_NOTIFIER = {"initial_backoff": 0.05, "max_backoff": 0.2, "poll_interval": 0.05,
                 "request_timeout": 2}


@dataclass
class Loopback:
    """Both services of one installation, each part started on demand."""

    config: Config
    db: Engine
    key: str
    launcher: workflow_launch.Launcher  # the runner role's (settings and caches)
    parts: dict[str, Any] = field(default_factory=dict)

    @property
    def engine_url(self) -> str:
        return self.config.public_url("engine")

    @property
    def engine_headers(self) -> dict[str, str]:
        """The engine API is authenticated: the platform's key opens it (one database)."""
        return {"X-Auth-Token": self.key}

    @property
    def api_url(self) -> str:
        return self.config.public_url("api")

    def start_engine(self) -> None:
        from levante.engine.api.app import create_app
        from levante.engine.core.runtime import EngineRuntime
        from levante.engine.core.worker import EngineWorker
        from levante.engine.settings import EngineSettings

        runtime = EngineRuntime(self.db, EngineSettings.from_config(self.config))
        self.parts["engine-api"] = ServedApp(create_app(runtime),
                                             self.config.get_int("engine", "port")).start()
        self.parts["engine-worker"] = Background(
            EngineWorker(runtime, workers=4, poll_interval=0.1)).start()

    def stop_engine(self) -> None:
        for name in ("engine-api", "engine-worker"):
            part = self.parts.pop(name, None)
            if part is not None:
                part.stop()

    def start_notifier(self) -> None:
        from levante.engine.platform_link.delivery import DeliveryService

        self.parts["notifier"] = Background(DeliveryService(self.config, self.db)).start()

    def start_platform(self) -> None:
        from levante.platform.api.app import create_app

        self.parts["platform-api"] = ServedApp(create_app(self.config, self.db),
                                               self.config.get_int("api", "port")).start()

    def start(self, name: str, service: Any) -> Any:
        self.parts[name] = Background(service).start()
        return service

    def stop(self, name: str) -> None:
        part = self.parts.pop(name, None)
        if part is not None:
            part.stop()

    def stop_all(self) -> None:
        for name in list(self.parts):
            self.stop(name)


@pytest.fixture
def loopback(migrated_url: str, tmp_path: Path) -> Iterator[Loopback]:
    config = config_for(tmp_path, migrated_url, notifier=FAST_NOTIFIER,
                        engine={"port": free_port(), "poll_interval": 0.1},
                        api={"port": free_port()}, runner={"poll_interval": 0.05})
    db = make_engine(migrated_url)
    register_packs(db, [])
    key, _ = ensure_api_key(config, db)
    found = Loopback(config, db, key, workflow_launch.Launcher.from_config(config, db))
    try:
        yield found
    finally:
        found.stop_all()
        db.dispose()
