"""A service that starts while the database refuses writes waits it out instead of
stopping its process (CI's chaos run: an engine restarted into the read-only fault met its
own registration refused and exited, and the run's workflows were judged without it)."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine

from levante.db.connect import make_engine
from levante.engine.core.runtime import EngineRuntime
from levante.engine.core.worker import EngineWorker
from levante.platform.core import store
from levante.platform.core.runner_service import RunnerService
from levante.platform.rules.service import RulesEngine
from tests.harness import eventually
from tests.integration.handshake.support import config_for
from tests.integration.platform.service.conftest import Background
from tests.refusal import need_refusal, refused


def _registered(db: Engine, role: str) -> int:
    return store.other_processes(db, role, "")


def test_services_started_during_a_refusal_wait_it_out(migrated_url: str,
                                                        tmp_path: Path) -> None:
    need_refusal(migrated_url, tmp_path)
    config = config_for(tmp_path, migrated_url, runner={"poll_interval": 0.1})
    db = make_engine(migrated_url, busy_timeout=1.0)
    background = Background([
        EngineWorker(EngineRuntime(db), poll_interval=0.1, write_retry=60),
        RunnerService(config, db),
        RulesEngine(config, db),
    ])
    try:
        with refused([migrated_url]):
            background.start()
            time.sleep(2)  # each has met the refusal by now, and kept waiting
            assert background.error is None, background.error
            assert background.thread.is_alive()
            assert _registered(db, "engine") == _registered(db, "runner") == 0
        eventually(lambda: _registered(db, "engine") == 1 and _registered(db, "runner") == 1,
                   timeout=30, what="the engine and the runner registered")
        assert background.thread.is_alive() and background.error is None
    finally:
        background.stop()
        db.dispose()
    assert background.error is None, background.error
