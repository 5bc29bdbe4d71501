"""Secret values encrypted at rest: AES-256-GCM with one symmetric key kept in a file.

The file holds the 32-byte key in URL-safe base64 on one line (mode 0600). A stored secret
is the hexadecimal text of nonce + ciphertext + tag, which is also what a client sees of a
secret it does not ask to decrypt (as StackStorm shows its ciphertext).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_FILE_NAME = "datastore_crypto_key"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16


class CryptoKeyError(Exception):
    """The key file is missing or not a key; the message names the file and the fix."""


class DecryptError(ValueError):
    """A value that this key cannot decrypt (not a ciphertext, or made with another key)."""


def new_key_text() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def write_key(path: Path, overwrite: bool = False) -> bool:
    """Create a new key at ``path`` (mode 0600); False when one exists and not
    ``overwrite`` (a key in use is never replaced by accident: its secrets would be lost)."""
    if path.exists() and not overwrite:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(new_key_text() + "\n")
    os.replace(tmp, path)
    return True


class Cipher:
    """Encrypts and decrypts values with one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise CryptoKeyError(f"a datastore key has {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    @classmethod
    def from_file(cls, path: Path) -> Cipher:
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            raise CryptoKeyError(
                f"The datastore's crypto key {path} does not exist: create it with "
                "`levante key generate-crypto-key` (or start `levante up`).") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CryptoKeyError(f"The datastore's crypto key {path} cannot be read: "
                                 f"{exc}") from None
        try:
            key = base64.urlsafe_b64decode(text.encode("ascii"))
        except (binascii.Error, ValueError):
            raise CryptoKeyError(f"The datastore's crypto key {path} is not a key "
                                 "(URL-safe base64 of 32 bytes expected).") from None
        if len(key) != KEY_BYTES:
            raise CryptoKeyError(f"The datastore's crypto key {path} is not a key "
                                 f"({KEY_BYTES} bytes expected, {len(key)} found).")
        return cls(key)

    def encrypt(self, plain: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return (nonce + self._aead.encrypt(nonce, plain.encode("utf-8"), None)).hex().upper()

    def decrypt(self, text: str) -> str:
        try:
            raw = bytes.fromhex(text)
        except (ValueError, TypeError):
            raise DecryptError("the value is not an encrypted datastore value") from None
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise DecryptError("the value is not an encrypted datastore value")
        try:
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None)
        except InvalidTag:
            raise DecryptError("the value cannot be decrypted with the datastore's crypto "
                               "key (made with another key, or altered)") from None
        return plain.decode("utf-8")
