"""A system with a sensor container, for the sensor suites: the API and
`levante serve sensorcontainer` (one or more) as processes, the test pack
(`tests/integration/platform/sensors/packs/sensortest`) registered, short leases and
backoffs; the real `st2` CLI and the database to look at what the sensors did."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine

from levante.db.connect import make_engine
from levante.platform.sensors import store
from tests import harness
from tests.harness import ROLES, Sections, System, clean_environ, merged

ROOT = Path(__file__).resolve().parents[3]
ST2 = ROOT / ".venv-clients" / "st2" / "bin" / "st2"
PACKS = ROOT / "tests" / "integration" / "platform" / "sensors" / "packs"
FAST: Sections = {"sensorcontainer": {"lease_seconds": 3, "renew_interval": 0.3,
                                      "initial_backoff": 0.3, "max_backoff": 1.2,
                                      "backoff_reset": 30, "stop_timeout": 3}}
T = TypeVar("T")


class SensorSystem(System):
    """Levante processes with sensor containers named `sensorcontainer`,
    `sensorcontainer-2`, ..."""

    _db: Engine | None = None

    @property
    def db(self) -> Engine:
        if self._db is None:
            self._db = make_engine(self.platform_db)
        return self._db

    def start_container(self, name: str = "sensorcontainer") -> None:
        # (the harness writes configs for its own roles: a container uses the API's)
        self.confs.setdefault("sensorcontainer", self.confs["api"])
        self.start(name)

    def st2(self, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
        env = clean_environ(ST2_API_KEY=self.key, HOME=str(home), COLUMNS="250")
        return subprocess.run([str(ST2), "--api-url", f"{self.api}/v1", *args],
                              capture_output=True, text=True, env=env, timeout=120)

    def log(self, name: str = "sensorcontainer") -> str:
        return self.log_path(name).read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
        super().close()


def start_sensor_system(tmp: Path, kind: str, roles: Sequence[str] = ("api",),
                        containers: int = 1, options: Sections | None = None) -> SensorSystem:
    system = SensorSystem.create(tmp, kind, [r for r in roles if r in ROLES], packs=PACKS,
                                 options=merged(FAST, options))
    try:
        for role in roles:
            if role not in ROLES:
                system.confs.setdefault(role, system.confs["api"])
                system.start(role)
        for number in range(containers):
            system.start_container("sensorcontainer" + (f"-{number + 1}" if number else ""))
    except BaseException:
        system.close()
        raise
    return system


def eventually(check: Callable[[], T | None], timeout: float = 60.0,
               what: str = "condition") -> T:
    """`tests.harness.eventually`, with this suite's longer default (sensor processes)."""
    return harness.eventually(check, timeout, what)


def payloads(system: SensorSystem, trigger: str) -> list[dict[str, Any]]:
    return [dict(r["payload"]) for r in store.instances_of(system.db, trigger)]
