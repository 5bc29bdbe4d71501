"""A server-sent events reader over real HTTP, in a thread: events as they arrive."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Event:
    name: str
    data: dict[str, Any]
    at: float  # time.monotonic() when read


class SseReader:
    def __init__(self, url: str, params: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.events: queue.Queue[Event | None] = queue.Queue()
        self.status = 0
        self.opened = threading.Event()
        self._stop = threading.Event()
        self._response: httpx.Response | None = None
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=60))
        self._thread = threading.Thread(target=self._run, args=(url, params, headers),
                                        daemon=True)
        self._thread.start()
        assert self.opened.wait(20), "the stream did not open"

    def _run(self, url: str, params: dict[str, str] | None,
             headers: dict[str, str] | None) -> None:
        try:
            with self._client.stream("GET", url, params=params, headers=headers) as resp:
                self._response = resp
                self.status = resp.status_code
                self.opened.set()
                name = ""
                for line in resp.iter_lines():
                    if self._stop.is_set():
                        break
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        self.events.put(Event(name, json.loads(line[6:]), time.monotonic()))
        except (httpx.HTTPError, OSError, ValueError, RuntimeError):
            pass  # closed by close() or by the server
        finally:
            self.opened.set()
            self.events.put(None)

    def until(self, predicate: Any, timeout: float = 20) -> list[Event]:
        """Events read until one satisfies `predicate` (included)."""
        seen: list[Event] = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no such event within {timeout} s; saw "
                                     f"{[(e.name, e.data.get('status')) for e in seen]}")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if event is None:
                raise AssertionError(f"the stream ended; saw {[e.name for e in seen]}")
            seen.append(event)
            if predicate(event):
                return seen

    def ended(self, timeout: float = 10) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self) -> None:
        """Hang up: the server sees the connection end now, not at its next keepalive."""
        self._stop.set()
        response = self._response
        if response is not None:
            # Shut the socket down: that wakes the reading thread at once.
            stream = response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)
        self._client.close()
        self._thread.join(5)
