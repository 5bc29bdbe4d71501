"""Levante's stand-in for StackStorm's ``st2common``, for action processes only."""
