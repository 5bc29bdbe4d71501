"""The engine's authentication without a server: who a request acts for, and that the
engine checks keys without importing the platform."""

from __future__ import annotations

import subprocess
import sys

from levante.identity.keys import Identity, acting_user, hash_secret, is_service, new_key


def test_only_a_service_identity_may_assert_a_user() -> None:
    assert acting_user(Identity("platform", service=True), "alice") == "alice"
    assert acting_user(Identity("platform", service=True), None) == "platform"
    assert acting_user(Identity("platform", service=True), "x" * 256) == "platform"
    assert acting_user(Identity("mallory"), "admin") == "mallory"


def test_service_keys_are_marked_in_their_metadata() -> None:
    assert is_service({"metadata": {"levante_service": True}})
    assert not is_service({"metadata": {"levante_service": "yes"}})
    assert not is_service({"metadata": {}})
    assert not is_service({"metadata": None})
    assert len(hash_secret("k")) == 64


def test_the_engine_does_not_import_the_platform() -> None:
    code = ("import sys, levante.engine.service, levante.engine.api.app, "
            "levante.engine.core.worker, levante.engine.platform_actions, levante.identity.keys; "
            "print([m for m in sys.modules if m.startswith('levante.platform')])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_keys_never_begin_with_a_dash() -> None:
    """A key beginning with "-" reads as an option after `--os-auth-token` or `-k`."""
    keys = [new_key() for _ in range(3000)]
    assert not [k for k in keys if k.startswith("-")]
    assert len(set(keys)) == len(keys) and all(len(k) >= 40 for k in keys)
