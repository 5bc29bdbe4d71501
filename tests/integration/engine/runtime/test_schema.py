"""Migration 0003 builds exactly the runtime's tables, and comes down again."""

from __future__ import annotations

from sqlalchemy import inspect

from levante.db import manage
from levante.db.connect import make_engine
from levante.engine.models import EXECUTION_TABLES


def test_migration_matches_models(database_url: str) -> None:
    manage.upgrade(database_url, "head")
    assert manage.check(database_url) == []
    manage.downgrade(database_url, "0002")
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
        assert not names & {t.name for t in EXECUTION_TABLES}
    finally:
        engine.dispose()
    manage.upgrade(database_url, "head")
    assert manage.check(database_url) == []
