"""The base classes of a pack's sensors, importable as StackStorm's
``st2reactor.sensor.base.Sensor`` and ``PollingSensor`` in sensor processes.

Standalone (standard library only): it runs in the pack's own virtual environment, where
Levante itself is not installed. The ``sensor_service`` a sensor receives is the sensor
wrapper's (``dispatch``, ``get_value``/``set_value``/``delete_value``/``list_values``,
``get_logger``), which talks to its sensor container.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["BaseSensor", "PollingSensor", "Sensor"]


class BaseSensor:
    """What every sensor has: ``self.sensor_service`` and ``self.config`` (its pack's
    config). ``setup`` runs once before ``run``, ``cleanup`` once when the sensor stops;
    ``add_trigger``/``update_trigger``/``remove_trigger`` follow the triggers of the
    sensor's trigger types (with parameters, e.g. a rule's)."""

    _levante_sensor_base = True

    def __init__(self, sensor_service: Any, config: dict[str, Any] | None = None) -> None:
        self._sensor_service = sensor_service  # StackStorm keeps both names
        self.sensor_service = sensor_service
        self._config = config or {}
        self.config = self._config

    def setup(self) -> None:
        """Prepare the sensor (connections, state); subclasses override this."""

    def run(self) -> None:
        """Watch for events and dispatch them; subclasses override this."""
        raise NotImplementedError(f"{type(self).__name__}.run is not written")

    def cleanup(self) -> None:
        """Release what ``setup`` took; called when the sensor stops."""

    def add_trigger(self, trigger: dict[str, Any]) -> None:
        """A trigger of one of the sensor's types was created."""

    def update_trigger(self, trigger: dict[str, Any]) -> None:
        """A trigger of one of the sensor's types changed."""

    def remove_trigger(self, trigger: dict[str, Any]) -> None:
        """A trigger of one of the sensor's types was deleted."""


class Sensor(BaseSensor):
    """A passive sensor: ``run`` blocks and dispatches as events arrive."""

    _levante_sensor_base = True


class PollingSensor(BaseSensor):
    """An active sensor: ``run`` calls ``poll`` every ``poll_interval`` seconds (the sensor
    file's ``poll_interval``, else 5 as in StackStorm)."""

    _levante_sensor_base = True

    def __init__(self, sensor_service: Any, config: dict[str, Any] | None = None,
                 poll_interval: float = 5) -> None:
        super().__init__(sensor_service=sensor_service, config=config)
        self._poll_interval = poll_interval

    def poll(self) -> None:
        """Look at the watched system once; subclasses override this."""
        raise NotImplementedError(f"{type(self).__name__}.poll is not written")

    def run(self) -> None:
        while True:
            self.poll()
            time.sleep(self._poll_interval)

    def get_poll_interval(self) -> float:
        return self._poll_interval

    def set_poll_interval(self, poll_interval: float) -> None:
        self._poll_interval = poll_interval
