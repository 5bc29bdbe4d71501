"""levante.db.local: what a process keeps beside one database lives on its engine."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import create_engine

from levante.db.connect import autocommit, make_engine
from levante.db.local import Bell, local_of


class Counter:
    def __init__(self) -> None:
        self.n = 0


def test_each_engine_has_its_own_parts_and_derived_engines_share_them(tmp_path: Path) -> None:
    first = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    second = make_engine(f"sqlite:///{tmp_path / 'a.db'}")  # same file, another engine
    local_of(first).part(Counter).n += 1
    assert local_of(first).part(Counter).n == 1
    assert local_of(second).part(Counter).n == 0
    derived = first.execution_options(isolation_level="SERIALIZABLE")
    assert local_of(derived) is local_of(first)
    assert autocommit(first) is first  # SQLite: the engine itself


def test_a_part_is_made_once_under_concurrent_first_use(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    seen: list[Counter] = []
    barrier = threading.Barrier(8)

    def take() -> None:
        barrier.wait()
        seen.append(local_of(db).part(Counter))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(found) for found in seen}) == 1


def test_bells_ring_their_members_and_are_kept_by_name(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    heard: list[tuple[str, str]] = []

    def listener(event: str, execution_id: str) -> None:
        heard.append((event, execution_id))

    bell = local_of(db).bell("executions")
    assert local_of(db).bell("executions") is bell
    assert local_of(db).bell("other") is not bell
    bell.add(listener)
    assert bell.has(listener)
    bell.ring("requested", "e1")
    bell.remove(listener)
    bell.remove(listener)  # removing twice is harmless
    bell.ring("requested", "e2")
    assert heard == [("requested", "e1")]
    assert not bell.has(listener)


def test_a_member_may_leave_while_the_bell_rings() -> None:
    bell = Bell()
    calls: list[str] = []

    def once() -> None:
        calls.append("once")
        bell.remove(once)

    bell.add(once)
    bell.ring()
    bell.ring()
    assert calls == ["once"]


def test_an_engine_made_elsewhere_gets_a_local_at_first_use() -> None:
    db = create_engine("sqlite://")
    assert local_of(db) is local_of(db)


def test_postgresql_autocommit_variant_is_made_once(postgres_url: str) -> None:
    db = make_engine(postgres_url)
    try:
        auto = autocommit(db)
        assert auto is autocommit(db)
        assert auto.get_execution_options()["isolation_level"] == "AUTOCOMMIT"
        assert autocommit(auto) is auto
        assert local_of(auto) is local_of(db)
    finally:
        db.dispose()
