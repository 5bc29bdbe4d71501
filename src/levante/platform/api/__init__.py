"""The platform's REST API v1, shaped like the part of StackStorm's that `st2` uses."""
