"""The datastore's store on a real SQLite database: upsert, scopes, prefix, expiry."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from levante.db.connect import make_engine
from levante.db.times import now
from levante.platform.datastore import store
from levante.platform.datastore.tables import kv_pairs
from tests.harness import migrated_sqlite


def test_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrated_sqlite(url)
    db = make_engine(url)
    try:
        t = now()
        first = store.put(db, "system", "", "a", "1", False, None, t)
        second = store.put(db, "system", "", "a", "2", True, None, t + timedelta(seconds=1))
        assert second["id"] == first["id"] and second["value"] == "2" and second["secret"]
        store.put(db, "user", "alice", "a", "mine", False, None, t)
        store.put(db, "system", "", "a_b", "x", False, None, t)
        store.put(db, "system", "", "aXb", "y", False, None, t)
        store.put(db, "system", "", "old", "z", False, t + timedelta(seconds=5), t)
        assert store.get(db, "user", "alice", "a", t)["value"] == "mine"  # type: ignore[index]
        assert store.get(db, "user", "bob", "a", t) is None
        rows, total = store.list_pairs(db, [("system", "")], "a_", None, 0, t)
        assert [r["name"] for r in rows] == ["a_b"] and total == 1  # `_` is no wildcard
        rows, total = store.list_pairs(db, [("system", ""), ("user", "alice")], None, 2, 1,
                                       t)
        assert [r["name"] for r in rows] == ["aXb", "a_b"] and total == 5
        later = t + timedelta(seconds=6)
        assert store.get(db, "system", "", "old", later) is None
        assert store.sweep(db, later) == 1
        assert not store.delete_pair(db, "system", "", "old", later)
        assert store.delete_pair(db, "user", "alice", "a", later)
        with db.connect() as conn:
            assert conn.execute(select(func.count()).select_from(kv_pairs)).scalar() == 3
    finally:
        db.dispose()
