"""Counts its polls in the datastore (a local key) and dispatches one tick per poll."""

from st2reactor.sensor.base import PollingSensor


class CounterSensor(PollingSensor):
    def setup(self):
        self.log = self.sensor_service.get_logger("counter")
        self.log.info("counter sensor set up")

    def poll(self):
        count = int(self.sensor_service.get_value("count") or 0) + 1
        self.sensor_service.set_value("count", str(count))
        self.sensor_service.dispatch("sensortest.tick", {
            "count": count, "greeting": self.config.get("greeting")})
        # refused by the schema: logged by the sensor service, not recorded
        self.sensor_service.dispatch("sensortest.tick", {"count": "not a number"})
        print(f"counter printed {count}")

    def add_trigger(self, trigger):
        if trigger["type"] != "sensortest.watched":
            return  # (a rule on sensortest.tick makes a trigger of that type too)
        self.sensor_service.set_value("watch:" + trigger["ref"],
                                      trigger["parameters"]["url"])

    def update_trigger(self, trigger):
        self.add_trigger(trigger)

    def remove_trigger(self, trigger):
        if trigger["type"] != "sensortest.watched":
            return
        self.sensor_service.delete_value("watch:" + trigger["ref"])

    def cleanup(self):
        self.sensor_service.set_value("cleaned", "yes", local=False)
