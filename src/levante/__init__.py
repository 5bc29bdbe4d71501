"""Levante: workflow automation with a Mistral v2 engine and a StackStorm-style platform."""

__version__ = "0.1.0"
