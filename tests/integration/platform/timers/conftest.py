"""A migrated database with the packs registered (the service tests' fixture)."""

from __future__ import annotations

from tests.integration.platform.service.conftest import platform_db

__all__ = ["platform_db"]
