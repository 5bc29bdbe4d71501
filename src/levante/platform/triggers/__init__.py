"""Triggers: trigger types (with payload schemas), triggers (a type with parameters) and
trigger instances (one event each, committed before anything acts on it)."""
