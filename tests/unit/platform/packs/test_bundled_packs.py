"""The bundled core and examples packs load cleanly and hold what the platform promises."""

from __future__ import annotations

from levante.platform.core.packs import BUNDLED_PACKS_DIR, load_pack
from levante.platform.runners import get_runner


def test_core_pack_has_the_promised_actions() -> None:
    meta, actions, errors = load_pack(BUNDLED_PACKS_DIR / "core")
    assert errors == []
    assert meta.name == "core"
    refs = {a.ref: a for a in actions}
    for ref in ("core.local", "core.local_sudo", "core.remote", "core.http", "core.noop",
                "core.echo"):
        assert ref in refs
    assert refs["core.local"].runner_type == "local-shell-cmd"
    assert refs["core.local"].parameters["cmd"]["required"] is True
    assert refs["core.local_sudo"].parameters["sudo"] == {"default": True, "immutable": True}
    assert refs["core.remote"].runner_type == "remote-shell-cmd"
    assert refs["core.http"].runner_type == "http-request"
    assert refs["core.noop"].runner_type == "noop"
    inject = refs["core.inject_trigger"]
    assert inject.runner_type == "inject-trigger"
    assert inject.parameters["trigger"]["required"] is True
    assert set(inject.parameters) == {"trigger", "payload", "trace_tag"}


def test_examples_pack_shows_each_runner() -> None:
    _, actions, errors = load_pack(BUNDLED_PACKS_DIR / "examples")
    assert errors == []
    runners = {get_runner(a.runner_type).name for a in actions}
    assert {"local-shell-cmd", "local-shell-script", "python-script", "http-request", "noop",
            "remote-shell-cmd"} <= runners
    for action in actions:
        if action.runner_type in ("local-shell-script", "python-script"):
            assert action.entry_point.startswith(str(BUNDLED_PACKS_DIR.resolve()))
