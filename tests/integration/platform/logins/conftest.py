"""The platform served on loopback (the service tests' fixtures), with a users file."""

from tests.integration.platform.service.conftest import platform_db, served

__all__ = ["platform_db", "served"]
