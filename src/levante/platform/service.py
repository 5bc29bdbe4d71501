"""The platform's roles for `levante serve` / `levante up`, and what `levante up` prepares.

Each factory imports its role's modules inside it, so that a process loads only the code of
the roles it serves (`levante serve api` does not load the runners, and so on); see
`levante.roles`.
"""

from __future__ import annotations

from sqlalchemy import Engine

from levante.config import Config
from levante.platform.core import auth
from levante.platform.core.pack_env import settings_from_config
from levante.platform.core.pack_registry import register_packs
from levante.service import HttpService, Service


def api_services(config: Config, engine: Engine) -> list[Service]:
    # lazy: keeps CLI start fast
    from levante.platform.api.app import create_app

    # lazy: keeps CLI start fast
    from levante.platform.logins.listeners import extra_listeners

    app = create_app(config, engine)
    # lazy: keeps CLI start fast
    from levante.platform.stream.service import StreamCloser

    return [HttpService("platform-api", app, config.get_str("api", "host"),
                        config.get_int("api", "port")), *extra_listeners(config, app),
            StreamCloser(engine)]


def runner_services(config: Config, engine: Engine) -> list[Service]:
    # lazy: keeps CLI start fast
    from levante.platform.core.runner_service import RunnerService

    # lazy: keeps CLI start fast
    from levante.platform.core.waits import WaitTimers

    # lazy: keeps CLI start fast
    from levante.platform.datastore import render as datastore_render

    # lazy: keeps CLI start fast
    from levante.platform.datastore.pairs import key_path_of

    # lazy: keeps CLI start fast
    from levante.platform.inquiries.service import InquirySweeper

    # lazy: keeps CLI start fast
    from levante.platform.workflows.launch import Launcher

    # lazy: keeps CLI start fast
    from levante.platform.workflows.reports import EngineReporter

    launcher = Launcher.from_config(config, engine)  # its settings and caches, passed in
    datastore_render.configure(engine, key_path_of(config))
    timers = WaitTimers(engine)
    return [RunnerService(config, engine, launcher, timers), timers,
            EngineReporter(config, engine), InquirySweeper(config, engine)]


def resultstracker_services(config: Config, engine: Engine) -> list[Service]:
    # lazy: keeps CLI start fast
    from levante.platform.workflows.tracker import ResultsTracker

    return [ResultsTracker(config, engine)]


def garbagecollector_services(config: Config, engine: Engine) -> list[Service]:
    # lazy: keeps CLI start fast
    from levante.platform.retention.service import retention_service

    # lazy: keeps CLI start fast
    from levante.retention import Policy

    return [retention_service(engine, Policy.from_config(config))]


def ensure_api_key(config: Config, engine: Engine) -> tuple[str, bool]:
    """The key in the data folder, made (and stored) when missing or no longer valid."""
    key = auth.read_key_file(config.data_dir)
    if key and auth.user_for_api_key(engine, key):
        return key, False
    key, _row = auth.create_api_key(engine, "admin", {"created_by": "levante up"})
    auth.write_key_file(config.data_dir, key)
    return key, True


def prepare_up(config: Config, engine: Engine) -> list[str]:
    """Register the packs and make sure the CLI has a key; return lines to print."""
    lines: list[str] = []
    report = register_packs(engine, config.get_list("content", "packs_paths"),
                            configs_path=config.configs_path,
                            envs=settings_from_config(config))
    lines.append(f"Registered {report.actions} action(s) from pack(s) "
                 f"{', '.join(report.packs) or 'none'}.")
    for error in report.errors:
        lines.append(f"  invalid: {error['file']}: {error['reason']}")
    _key, created = ensure_api_key(config, engine)
    path = config.data_dir / auth.KEY_FILE_NAME
    if created:
        lines.append(f"Created an API key for the CLI in {path} (user admin).")
    else:
        lines.append(f"API key for the CLI: {path}.")
    return lines
