"""A migrated database with the packs registered, and the platform served on loopback
(the service tests' fixtures)."""

from __future__ import annotations

from tests.integration.platform.service.conftest import platform_db, served

__all__ = ["platform_db", "served"]
