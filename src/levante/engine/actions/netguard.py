"""Refuse connections to denied networks, checked on the address actually connected to.

The check lives in the network backend under httpx, so it applies to every connection of a
request (redirects and proxies included) and to the address the name resolved to at
connect time, not to an earlier lookup that DNS could contradict.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Sequence

import httpcore
from httpcore._backends.auto import AutoBackend

from levante.engine.actions.base import IPNetwork


class DeniedNetwork(Exception):
    """The host resolved to an address inside a denied network."""

    def __init__(self, host: str, address: str, network: IPNetwork) -> None:
        super().__init__(
            f"{host} resolves to {address}, inside the denied network {network} "
            "([engine] http_denied_networks)"
        )
        self.host = host
        self.address = address
        self.network = network


def denied_by(address: str, networks: Sequence[IPNetwork]) -> IPNetwork | None:
    """The network of ``networks`` holding ``address`` (IPv4-mapped IPv6 seen as IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        candidates.append(ip.ipv4_mapped)
    for net in networks:
        for cand in candidates:
            if cand.version == net.version and cand in net:
                return net
    return None


async def resolve_allowed(host: str, port: int, networks: Sequence[IPNetwork]) -> list[str]:
    """Addresses of ``host``; raise DeniedNetwork if any of them is in a denied network."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        network = denied_by(address, networks)
        if network is not None:
            raise DeniedNetwork(host, address, network)
        if address not in addresses:
            addresses.append(address)
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks every address, then connects to an allowed address."""

    def __init__(self, networks: Sequence[IPNetwork]) -> None:
        self._networks = tuple(networks)
        self._inner = AutoBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve_allowed(host, port, self._networks)
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        if error is not None:
            raise error
        raise httpcore.ConnectError(f"{host} resolves to no address")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed with denied networks")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
