"""Levante's stand-in for StackStorm's ``st2reactor``, for sensor processes only."""
