"""A passive sensor dispatching numbered events without pause; the next number lives in the
datastore, so that a restarted (or taken over) sensor goes on where it stopped."""

import time

from st2reactor.sensor.base import Sensor


class BurstSensor(Sensor):
    def setup(self):
        self.limit = int(self.sensor_service.get_value("burst_limit", local=False) or 200)

    def run(self):
        number = int(self.sensor_service.get_value("next") or 0)
        while number < self.limit:
            self.sensor_service.dispatch("sensortest.burst", {"n": number})
            number += 1
            self.sensor_service.set_value("next", str(number))
        self.sensor_service.get_logger("burst").info("burst done at %s", number)
        while True:
            time.sleep(1)
