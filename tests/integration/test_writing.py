"""`levante.db.connect.writing` and `after_commit`: callbacks that run once the write
transaction committed (never after a rollback), and one writer at a time per SQLite
database in this process, whatever the Engine object."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    update,
)

from levante.db.connect import after_commit, make_engine, writing

meta = MetaData()
probe = Table("writing_probe", meta, Column("id", Integer, primary_key=True),
              Column("name", String(50), nullable=False))
counter = Table("writing_counter", meta, Column("id", Integer, primary_key=True),
                Column("n", Integer, nullable=False))


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(counter).values(id=1, n=0))
    yield engine
    engine.dispose()


def _names(db: Engine) -> list[str]:
    with db.connect() as conn:
        return [r[0] for r in conn.execute(select(probe.c.name).order_by(probe.c.id))]


def _in_other_thread(work: Any, timeout: float = 10.0) -> list[Any]:
    """Run `work()` in another thread; [result] when it finished in time, [] otherwise."""
    found: list[Any] = []
    errors: list[BaseException] = []

    def main() -> None:
        try:
            found.append(work())
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    thread.join(timeout)
    if errors:
        raise errors[0]
    return found


def test_callbacks_run_once_after_the_commit(db: Engine, database_url: str) -> None:
    other = make_engine(database_url, busy_timeout=0.5)
    seen: list[tuple[str, Any]] = []

    def first() -> None:
        # The rows are committed: another connection sees them ...
        seen.append(("first", _names(other)))
        # ... and the writer lock (Python's and the database's) is free: another thread
        # writes at once (it would wait forever on a held process lock).
        def write() -> str:
            with writing(other) as conn:
                conn.execute(insert(probe).values(name="from-callback"))
            return "written"

        seen.append(("other writer", _in_other_thread(write)))

    def second() -> None:
        seen.append(("second", None))

    try:
        with writing(db) as conn:
            conn.execute(insert(probe).values(name="a"))
            assert after_commit(conn, first) is True
            assert after_commit(conn, second) is True
            assert seen == []  # nothing runs before the commit
        assert seen == [("first", ["a"]), ("other writer", ["written"]), ("second", None)]
        assert _names(db) == ["a", "from-callback"]
        # A later transaction does not run them again.
        with writing(db) as conn:
            conn.execute(insert(probe).values(name="b"))
        assert len(seen) == 3
    finally:
        other.dispose()


def test_no_callback_after_a_rollback(db: Engine) -> None:
    called: list[str] = []

    class Boom(Exception):
        pass

    with pytest.raises(Boom), writing(db) as conn:
        conn.execute(insert(probe).values(name="lost"))
        assert after_commit(conn, lambda: called.append("x"))
        raise Boom
    assert called == []
    assert _names(db) == []
    # The connection and the lock were released: the next writer goes through, and the
    # callback registered in the rolled-back transaction never comes back.
    with writing(db) as conn:
        conn.execute(insert(probe).values(name="kept"))
        assert after_commit(conn, lambda: called.append("y"))
    assert called == ["y"]
    assert _names(db) == ["kept"]


def test_after_commit_needs_a_writing_transaction(db: Engine) -> None:
    called: list[str] = []
    with db.begin() as conn:
        assert after_commit(conn, lambda: called.append("begin")) is False
        conn.execute(insert(probe).values(name="plain"))
    with db.connect() as conn:
        assert after_commit(conn, lambda: called.append("connect")) is False
    # A connection once used by `writing` and back in the pool is not one any more.
    with writing(db) as conn:
        pass
    with db.connect() as conn:
        assert after_commit(conn, lambda: called.append("pooled")) is False
        conn.commit()
    assert called == []
    assert _names(db) == ["plain"]


def test_threads_of_a_process_write_one_database_without_lock_errors(
    database_url: str, db: Engine
) -> None:
    """Eight threads on the engine of a process (its roles share one), with a busy timeout
    (50 ms) far shorter than the time the others hold the write lock: on SQLite only the
    engine's writer lock keeps them from failing with "database is locked"."""
    engines = [make_engine(database_url, busy_timeout=0.05)]
    threads_n, rounds = 8, 6
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def work(index: int) -> None:
        engine = engines[0]
        try:
            start.wait(10)
            for r in range(rounds):
                with writing(engine) as conn:
                    # read, then write: no lock upgrade halfway on SQLite (BEGIN IMMEDIATE)
                    n = conn.execute(select(counter.c.n).where(counter.c.id == 1)).scalar_one()
                    conn.execute(insert(probe).values(name=f"t{index}-{r}"))
                    time.sleep(0.01)  # hold the write lock a while
                    conn.execute(update(counter).where(counter.c.id == 1)
                                 .values(n=counter.c.n + 1))
                    assert n >= 0
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads_n)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads)
        assert errors == [], errors[0]
        with db.connect() as conn:
            assert conn.execute(select(func.count()).select_from(probe)).scalar_one() == \
                threads_n * rounds
            assert conn.execute(select(counter.c.n)).scalar_one() == threads_n * rounds
    finally:
        for engine in engines:
            engine.dispose()
