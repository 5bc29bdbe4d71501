"""Entry point of one pack sensor's process (a sensor container starts one per sensor).

Usage: ``python -P <this file>``, with the ``st2shim`` folder first on ``PYTHONPATH``: the
file runs as a script with the interpreter of the pack's virtual environment (where
Levante is not installed), so it needs only the standard library and the shim
(``st2reactor.sensor.base``, and ``KeyValuePair`` from ``st2common``'s action base).

It talks to its container over its standard input and output, one JSON object a line:

- the container's first line says what to run (``{"op": "start", "ref", "file",
  "class_name", "poll_interval", "config", "triggers", "log_level", "hold"}``; the config
  never goes on the command line, where ``ps`` would show secrets); then come ``reply``
  (the answer to a request, by ``id``), ``add_trigger``/``update_trigger``/
  ``remove_trigger``, ``hold`` (the container still holds the sensor's lease for that many
  seconds) and ``stop``;
- the sensor's requests go the other way: ``dispatch`` and the datastore's ``get_value``,
  ``set_value``, ``delete_value``, ``list_values``, each answered before the call returns
  (a dispatched trigger instance is committed by then).

The sensor's own output (its loggers, ``print``) goes to standard error, which the
container logs line by line under the sensor's ref. The process stops (``cleanup()``
called) on SIGTERM, on ``stop``, when its container goes away (end of its input, or the
parent's death) and when the lease is not renewed in time: a sensor never runs in two
places, even when its container hangs.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import inspect
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
import traceback
from typing import Any

# The shim, first on PYTHONPATH: StackStorm's client model of a key, as actions get it.
from st2common.runners.base_action import KeyValuePair

LEVELS = {"AUDIT": logging.DEBUG, "CRITICAL": logging.CRITICAL, "ERROR": logging.ERROR,
          "WARNING": logging.WARNING, "INFO": logging.INFO, "DEBUG": logging.DEBUG}
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
REPLY_TIMEOUT = 120.0
# Exit codes: 0 the sensor ended (run returned, or it was stopped); 1 it failed; 3 its
# container went away or stopped renewing its lease.
EXIT_FAILED = 1
EXIT_ORPHANED = 3


class Stopped(BaseException):
    """Raised in the main thread to stop the sensor (SIGTERM, ``stop``, lost container)."""


class ContainerGone(RuntimeError):
    """The sensor container does not answer any more."""


class Refused(RuntimeError):
    """The container refused a request (a bad key name, a payload its schema refuses)."""


class Channel:
    """The pipe to the container: requests answered by id, and the container's messages
    (triggers, lease holds, stop) handed to ``on_message``."""

    def __init__(self, out: Any, inp: Any) -> None:
        self._out = out
        self._in = inp
        self._lock = threading.Lock()
        self._next = 0
        self._waiting: dict[int, list[Any]] = {}
        self._answered = threading.Condition(self._lock)
        self.closed = False

    def send(self, message: dict[str, Any]) -> None:
        text = json.dumps(message, default=str)
        with self._lock:
            try:
                self._out.write(text + "\n")
                self._out.flush()
            except (OSError, ValueError) as exc:
                raise ContainerGone(f"the sensor container is gone ({exc})") from None

    def request(self, op: str, **fields: Any) -> Any:
        """Send a request and wait for its answer: the result, or RuntimeError with the
        container's reason."""
        with self._lock:
            self._next += 1
            number = self._next
            self._waiting[number] = []
        self.send({"op": op, "id": number, **fields})
        deadline = time.monotonic() + REPLY_TIMEOUT
        with self._answered:
            while not self._waiting[number]:
                if self.closed:
                    del self._waiting[number]
                    raise ContainerGone("the sensor container is gone")
                left = deadline - time.monotonic()
                if left <= 0:
                    del self._waiting[number]
                    raise ContainerGone(f"no answer from the sensor container to {op} "
                                        f"within {REPLY_TIMEOUT:g} seconds")
                self._answered.wait(left)
            reply = self._waiting.pop(number)[0]
        if not reply.get("ok"):
            error = str(reply.get("error") or f"{op} failed")
            raise Refused(error) if reply.get("refused") else RuntimeError(error)
        return reply.get("result")

    def read_forever(self, on_message: Any) -> None:
        """Read the container's lines until its end (then the channel is closed)."""
        try:
            for line in self._in:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if message.get("op") == "reply":
                    with self._answered:
                        if message.get("id") in self._waiting:
                            self._waiting[message["id"]].append(message)
                            self._answered.notify_all()
                    continue
                on_message(message)
        except (OSError, ValueError):
            pass
        with self._answered:
            self.closed = True
            self._answered.notify_all()


class SensorService:
    """StackStorm's ``sensor_service``: dispatch triggers and use the datastore through
    the container. ``local=True`` keys are the sensor's own (``<pack>.<Class>:<name>``,
    as StackStorm names them); a datastore failure is logged and answered as StackStorm
    does (None, False)."""

    def __init__(self, channel: Channel, logger: logging.Logger) -> None:
        self._channel = channel
        self._logger = logger

    def get_logger(self, name: str) -> logging.Logger:
        logger = logging.getLogger(f"{self._logger.name}.{name}")
        logger.propagate = True
        return logger

    def dispatch(self, trigger: str, payload: Any = None, trace_tag: str | None = None) -> None:
        """Record one instance of ``trigger`` (a trigger or trigger type ref); returns once
        it is committed. A payload its trigger type's schema refuses is logged and not
        recorded, as StackStorm does; when the container cannot record it (its database
        is down), the call raises."""
        if not isinstance(trigger, str):
            raise TypeError(f"trigger must be a trigger ref (a string), not {trigger!r}")
        if payload is not None and not isinstance(payload, dict):
            raise TypeError(f"payload must be a dict or None, not {type(payload).__name__}")
        self._logger.debug("Dispatching trigger %s", trigger)
        try:
            self._channel.request("dispatch", trigger=trigger, payload=payload,
                                  trace_tag=trace_tag)
        except Refused as exc:
            self._logger.warning("Trigger %s not dispatched: %s", trigger, exc)

    def dispatch_with_context(self, trigger: str, payload: Any = None,
                              trace_context: Any = None) -> None:
        tag = getattr(trace_context, "trace_tag", None) if trace_context else None
        self.dispatch(trigger, payload=payload, trace_tag=tag)

    def list_values(self, local: bool = True, prefix: str | None = None,
                    scope: str = "system", decrypt: bool = False) -> list[KeyValuePair]:
        docs = self._channel.request("list_values", local=local, prefix=prefix, scope=scope,
                                     decrypt=decrypt)
        return [KeyValuePair(d) for d in docs or []]

    def get_value(self, name: str, local: bool = True, scope: str = "system",
                  decrypt: bool = False) -> str | None:
        try:
            found = self._channel.request("get_value", name=name, local=local, scope=scope,
                                          decrypt=decrypt)
        except ContainerGone:
            raise
        except RuntimeError as exc:
            self._logger.error("Exception retrieving value from datastore (name=%s): %s",
                               name, exc)
            return None
        return None if found is None else str(found)

    def set_value(self, name: str, value: Any, ttl: int | None = None, local: bool = True,
                  scope: str = "system", encrypt: bool = False) -> bool:
        self._channel.request("set_value", name=name, value=str(value), ttl=ttl, local=local,
                              scope=scope, encrypt=encrypt)
        return True

    def delete_value(self, name: str, local: bool = True, scope: str = "system") -> bool:
        try:
            return bool(self._channel.request("delete_value", name=name, local=local,
                                              scope=scope))
        except ContainerGone:
            raise
        except RuntimeError as exc:
            self._logger.error("Exception deleting value from datastore (name=%s): %s",
                               name, exc)
            return False


def _is_sensor_class(obj: Any) -> bool:
    return inspect.isclass(obj) and any(
        base.__dict__.get("_levante_sensor_base") for base in obj.__mro__)


def load_sensor_class(path: str, class_name: str) -> type[Any]:
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load Python module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    found = getattr(module, class_name, None)
    if found is None:
        raise RuntimeError(f"Sensor module {path} is missing a class named {class_name!r}")
    if not _is_sensor_class(found) or found.__dict__.get("_levante_sensor_base"):
        raise RuntimeError(f"{class_name} in {path} is not a Sensor or PollingSensor "
                           "(from st2reactor.sensor.base)")
    return found


def _die_with_parent() -> None:
    """Linux: SIGTERM this process when its container dies (prctl PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Wrapper:
    """One sensor instance, its channel, and what stops it."""

    def __init__(self, start: dict[str, Any], channel: Channel) -> None:
        self.start = start
        self.channel = channel
        self.logger = logging.getLogger(f"SensorWrapper.{start['ref']}")
        self.sensor: Any = None
        # Trigger events, handled in order by a thread of their own once the sensor is set
        # up (not by the channel's reader: a handler may use the datastore, whose answers
        # that reader delivers).
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        for trigger in start.get("triggers") or []:
            self.events.put({"op": "add_trigger", "trigger": trigger})
        self.deadline = time.monotonic() + float(start.get("hold") or 30)
        self.stop_reason = ""

    def stop(self, reason: str) -> None:
        """Stop the sensor from another thread: SIGTERM to this process (the main thread
        raises Stopped, so ``cleanup`` runs)."""
        if not self.stop_reason:
            self.stop_reason = reason
            os.kill(os.getpid(), signal.SIGTERM)

    def on_message(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "hold":
            self.deadline = time.monotonic() + float(message.get("seconds") or 0)
        elif op == "stop":
            self.stop("asked to stop")
        elif op in ("add_trigger", "update_trigger", "remove_trigger"):
            self.events.put(message)

    def handle_events(self) -> None:
        while True:
            message = self.events.get()
            op = str(message["op"])
            try:
                getattr(self.sensor, op)(trigger=message.get("trigger") or {})
            except ContainerGone:
                return
            except Exception:
                self.logger.exception("The sensor's %s failed", op)

    def watch(self) -> None:
        """Stop the sensor when its container goes away or its lease is not renewed."""
        while True:
            time.sleep(0.2)
            if self.channel.closed:
                self.stop("its sensor container went away")
            elif time.monotonic() > self.deadline:
                self.stop("its sensor container did not renew the lease in time")
            if self.stop_reason:
                time.sleep(float(self.start.get("stop_timeout") or 5))
                os._exit(EXIT_ORPHANED)

    def instance(self) -> Any:
        cls = load_sensor_class(self.start["file"], self.start["class_name"])
        service = SensorService(self.channel, self.logger)
        kwargs: dict[str, Any] = {"sensor_service": service,
                                  "config": self.start.get("config") or {}}
        poll = self.start.get("poll_interval")
        if poll and any(b.__name__ == "PollingSensor" and b.__dict__.get(
                "_levante_sensor_base") for b in cls.__mro__):
            kwargs["poll_interval"] = poll
        return cls(**kwargs)

    def run(self) -> int:
        try:
            self.sensor = self.instance()
            self.logger.info("Running sensor initialization code")
            self.sensor.setup()
            threading.Thread(target=self.handle_events, name="trigger-events",
                             daemon=True).start()
            poll = self.start.get("poll_interval")
            self.logger.info("Running sensor in %s", f"active mode (poll interval={poll}s)"
                             if poll else "passive mode")
            self.sensor.run()
            self.logger.info("The sensor's run method returned")
            return 0
        except Stopped:
            return EXIT_ORPHANED if self.stop_reason and self.stop_reason != "asked to stop" \
                else 0
        except ContainerGone as exc:
            self.logger.error("%s", exc)
            return EXIT_ORPHANED
        except Exception as exc:
            self.logger.error("Sensor %s failed: %s\n%s", self.start["class_name"], exc,
                              traceback.format_exc().rstrip())
            return EXIT_FAILED
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        if self.sensor is None:
            return
        try:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # cleanup runs to its end
            self.logger.info("Invoking cleanup on sensor%s",
                             f" ({self.stop_reason})" if self.stop_reason else "")
            self.sensor.cleanup()
        except Stopped:
            pass
        except Exception:
            self.logger.exception("The sensor's cleanup failed")


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Stopped()


def main() -> int:
    # The pipe to the container is a private copy of stdin/stdout; fd 1 becomes stderr, so
    # that whatever the sensor prints (or a child process it starts) ends up in the log.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    inp = os.fdopen(os.dup(0), "r", encoding="utf-8")
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    _die_with_parent()
    signal.signal(signal.SIGTERM, _on_sigterm)
    first = inp.readline()
    if not first:
        return EXIT_ORPHANED
    start = json.loads(first)
    logging.basicConfig(stream=sys.stderr, format=LOG_FORMAT,
                        level=LEVELS.get(str(start.get("log_level", "INFO")).upper(),
                                         logging.INFO))
    importlib.import_module("st2reactor.sensor.base")  # the shim: fail early
    channel = Channel(out, inp)
    wrapper = Wrapper(start, channel)
    threading.Thread(target=channel.read_forever, args=(wrapper.on_message,),
                     name="container-channel", daemon=True).start()
    threading.Thread(target=wrapper.watch, name="lease-watch", daemon=True).start()
    code = wrapper.run()
    sys.stdout.flush()
    sys.stderr.flush()
    return code


if __name__ == "__main__":
    # os._exit: threads the sensor started must not keep a stopped or failed sensor alive.
    os._exit(main())
