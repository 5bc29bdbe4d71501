"""Tells which Python runs it, and whether Levante could be imported there."""

import importlib.util
import sys

from st2reactor.sensor.base import PollingSensor


class WhereSensor(PollingSensor):
    def poll(self):
        self.sensor_service.dispatch("sensorenv.where", {
            "python": sys.executable,
            "levante": importlib.util.find_spec("levante") is not None})
