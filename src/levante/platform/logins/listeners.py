"""The extra ports st2client assumes when only ``--api-url`` is given.

st2client derives the auth URL as ``http://127.0.0.1:9100`` and the stream URL as
``http://127.0.0.1:9102/v1`` from its *base* URL, whatever ``--api-url`` says. The API
process therefore also listens on ``[api] auth_port`` (token routes only) and
``[api] stream_port`` (``/v1/stream`` only), on the API's host, serving the same
application (0 turns a listener off). A port already taken is logged and skipped: the
API itself keeps serving, and ``--auth-url`` / ``--stream-url`` (or ``ST2_AUTH_URL`` /
``ST2_STREAM_URL``) point st2 at the main port instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from levante.config import Config
from levante.platform.api.common import dumps

log = logging.getLogger("levante.platform.logins")

AUTH_PATHS = ("/tokens", "/auth/v1/tokens")
STREAM_PATHS = ("/v1/stream",)


class OnlyPaths:
    """Serve only requests under `prefixes` (and ``/``); 404 for the rest."""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if not any(path == p or path.startswith(p + "/") for p in self.prefixes):
                body = dumps({"faultstring": f"The resource {path} cannot be found "
                                             "on this port."})
                await send({"type": "http.response.start", "status": 404,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


class _Quiet(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ExtraListener:
    """One more port for part of the API; a port that cannot be bound is only logged."""

    def __init__(self, name: str, app: ASGIApp, host: str, port: int) -> None:
        self.name = name
        self.app = app
        self.host = host
        self.port = port

    def _bind(self) -> socket.socket | None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            log.warning("%s: cannot listen on %s:%d (%s); st2 needs --auth-url / "
                        "--stream-url pointing at the API port", self.name, self.host,
                        self.port, exc.strerror or exc)
            return None
        sock.listen(128)
        sock.setblocking(False)
        return sock

    async def run(self, stopping: asyncio.Event) -> None:
        sock = self._bind()
        if sock is None:
            await stopping.wait()
            return
        config = uvicorn.Config(self.app, log_level="warning", access_log=False,
                                lifespan="off")
        server = _Quiet(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        waiter = asyncio.create_task(stopping.wait())
        await asyncio.wait({serving, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        server.should_exit = True
        await serving
        sock.close()


def extra_listeners(config: Config, app: ASGIApp) -> list[ExtraListener]:
    """The auth and stream listeners this configuration asks for."""
    host = config.get_str("api", "host")
    found: list[ExtraListener] = []
    for name, option, prefixes in (("platform-auth", "auth_port", AUTH_PATHS),
                                   ("platform-stream", "stream_port", STREAM_PATHS)):
        port = config.get_int("api", option)
        if port:
            found.append(ExtraListener(name, OnlyPaths(app, prefixes), host, port))
    return found
