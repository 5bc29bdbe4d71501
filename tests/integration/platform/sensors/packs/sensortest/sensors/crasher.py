"""Counts its starts in the datastore, dispatches one trigger per start, then crashes
(leaving behind a thread that would keep a plain Python process alive)."""

import threading
import time

from st2reactor.sensor.base import PollingSensor


class CrashSensor(PollingSensor):
    def setup(self):
        self.start = int(self.sensor_service.get_value("starts") or 0) + 1
        self.sensor_service.set_value("starts", str(self.start))
        threading.Thread(target=time.sleep, args=(3600,), daemon=False).start()

    def poll(self):
        self.sensor_service.dispatch("sensortest.crashed",
                                     {"start": self.start, "at": time.time()})
        raise RuntimeError(f"crash number {self.start}")
