"""The datastore's cipher: AES-256-GCM with a key file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from levante.platform.datastore.crypto import Cipher, CryptoKeyError, DecryptError, write_key


def test_round_trip_and_fresh_nonces(tmp_path: Path) -> None:
    path = tmp_path / "key"
    assert write_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cipher = Cipher.from_file(path)
    one, two = cipher.encrypt("pässword"), cipher.encrypt("pässword")
    assert one != two and "pässword" not in one
    assert cipher.decrypt(one) == cipher.decrypt(two) == "pässword"
    assert cipher.decrypt(cipher.encrypt("")) == ""


def test_an_existing_key_is_kept_unless_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "key"
    write_key(path)
    text = path.read_text()
    assert not write_key(path)
    assert path.read_text() == text
    assert write_key(path, overwrite=True) and path.read_text() != text


def test_other_key_altered_or_plain_text_is_refused(tmp_path: Path) -> None:
    write_key(tmp_path / "a")
    write_key(tmp_path / "b")
    a, b = Cipher.from_file(tmp_path / "a"), Cipher.from_file(tmp_path / "b")
    token = a.encrypt("x")
    with pytest.raises(DecryptError, match="another key"):
        b.decrypt(token)
    altered = token[:-2] + ("00" if token[-2:] != "00" else "11")
    with pytest.raises(DecryptError, match=r"another key, or altered"):
        a.decrypt(altered)
    for bad in ("hello", "ABCD", ""):
        with pytest.raises(DecryptError, match="not an encrypted"):
            a.decrypt(bad)


def test_bad_key_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(CryptoKeyError, match=r"does not exist.*generate-crypto-key"):
        Cipher.from_file(tmp_path / "missing")
    (tmp_path / "short").write_text("YWJj\n")
    with pytest.raises(CryptoKeyError, match="short is not a key"):
        Cipher.from_file(tmp_path / "short")
    (tmp_path / "junk").write_text("!!!\n")
    with pytest.raises(CryptoKeyError, match="junk is not a key"):
        Cipher.from_file(tmp_path / "junk")
