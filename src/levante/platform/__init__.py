"""The platform."""
