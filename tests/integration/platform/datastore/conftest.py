"""The platform API served on loopback (the service tests' fixtures) with a crypto key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from levante.platform.datastore import crypto, pairs
from tests.integration.platform.service.conftest import Served, platform_db, served

__all__ = ["platform_db", "served"]


@pytest.fixture
def keyed(served: Served) -> Iterator[Served]:
    """The served platform with the datastore's crypto key in its data folder."""
    crypto.write_key(pairs.key_path_of(served.config))
    yield served
