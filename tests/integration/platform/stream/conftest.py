"""The platform served on loopback (the service tests' fixtures), with the event stream."""

from tests.integration.platform.service.conftest import platform_db, served

__all__ = ["platform_db", "served"]
