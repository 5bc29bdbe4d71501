"""`levante up` runs its hooks: the datastore's makes the crypto key once, in the data
folder (or at [datastore] crypto_key_path), and says so."""

from __future__ import annotations

from pathlib import Path

from levante.cli.serve import UP_HOOKS, _hook
from levante.config import load_config
from levante.platform.datastore.crypto import Cipher


def test_up_creates_the_crypto_key_once(tmp_path: Path) -> None:
    config = load_config(environ={}).with_overrides({("core", "data_dir"): str(tmp_path)})
    hook = _hook("levante.platform.datastore.cli:prepare_up")
    assert hook is not None and "levante.platform.datastore.cli:prepare_up" in UP_HOOKS
    lines = hook(config, None)
    path = tmp_path / "datastore_crypto_key"
    assert lines == [f"Created the datastore's crypto key in {path}."]
    text = path.read_text()
    assert Cipher.from_file(path).decrypt(Cipher.from_file(path).encrypt("x")) == "x"
    assert hook(config, None) == [] and path.read_text() == text
    elsewhere = tmp_path / "etc" / "kv.key"
    moved = config.with_overrides({("datastore", "crypto_key_path"): str(elsewhere)})
    assert hook(moved, None) == [f"Created the datastore's crypto key in {elsewhere}."]
