"""Standard Webhooks signing and verification."""

from __future__ import annotations

import base64

import pytest

from levante.contract.signing import SignatureError, generate_secret, sign, signed_headers, verify

# A vector computed independently with openssl:
#   printf 'msg_1.1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'key' -binary | base64
SECRET = "whsec_" + base64.b64encode(b"key").decode()


def test_known_vector() -> None:
    assert sign(SECRET, "msg_1", 1700000000, b'{"a":1}') == (
        "v1,KSgv0SSgWzG5LPnm9tfWJRfBlWqAqHz+OlObgspQi/g="
    )


def test_round_trip_and_tampering() -> None:
    secret = generate_secret()
    body = b'{"event": "WORKFLOW_SUCCEEDED"}'
    headers = signed_headers(secret, "evt-1", body)
    assert verify(secret, headers, body) == "evt-1"
    with pytest.raises(SignatureError, match="no signature matches"):
        verify(secret, headers, body + b" ")
    with pytest.raises(SignatureError, match="no signature matches"):
        verify(generate_secret(), headers, body)


def test_one_of_several_signatures_may_match() -> None:
    secret = generate_secret()
    headers = signed_headers(secret, "evt-2", b"x")
    headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
    assert verify(secret, headers, b"x") == "evt-2"


def test_stale_and_missing_headers() -> None:
    secret = generate_secret()
    headers = signed_headers(secret, "evt-3", b"x", timestamp=1000)
    with pytest.raises(SignatureError, match="away from now"):
        verify(secret, headers, b"x")
    assert verify(secret, headers, b"x", now=1000) == "evt-3"
    with pytest.raises(SignatureError, match="missing header"):
        verify(secret, {"webhook-id": "x"}, b"x")
