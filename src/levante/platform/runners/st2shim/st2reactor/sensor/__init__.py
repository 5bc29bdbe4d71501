"""``st2reactor.sensor``: only ``base`` (``Sensor``, ``PollingSensor``) is provided."""
