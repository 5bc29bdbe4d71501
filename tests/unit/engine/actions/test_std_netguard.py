"""Denied-network checks on resolved addresses."""

from __future__ import annotations

import asyncio

import pytest

from levante.engine.actions.base import parse_networks
from levante.engine.actions.netguard import DeniedNetwork, denied_by, resolve_allowed

NETS = parse_networks(["127.0.0.0/8", "169.254.0.0/16", "::1/128"])


@pytest.mark.parametrize(
    ("address", "denied"),
    [
        ("127.0.0.1", "127.0.0.0/8"),
        ("169.254.169.254", "169.254.0.0/16"),
        ("::1", "::1/128"),
        ("::ffff:127.0.0.1", "127.0.0.0/8"),
        ("fe80::1%lo", None),
        ("10.1.2.3", None),
        ("2001:db8::1", None),
    ],
)
def test_denied_by(address: str, denied: str | None) -> None:
    found = denied_by(address, NETS)
    assert (str(found) if found else None) == denied


def test_resolve_refuses_a_name_resolving_into_a_denied_network() -> None:
    with pytest.raises(DeniedNetwork) as info:
        asyncio.run(resolve_allowed("localhost", 80, NETS))
    assert "localhost" in str(info.value)
    assert "http_denied_networks" in str(info.value)


def test_resolve_allows_other_addresses() -> None:
    assert asyncio.run(resolve_allowed("127.0.0.1", 80, parse_networks(["10.0.0.0/8"]))) == [
        "127.0.0.1"
    ]
