"""Pack sensors, each run in a process of its own under the sensor container role."""
