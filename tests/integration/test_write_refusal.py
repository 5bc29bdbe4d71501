"""A database that refuses writes for a while (levante.db.faults): the refusal is told
apart from other errors, a write is kept and retried until the database accepts it again,
and the connections opened during the refusal do not keep refusing afterwards."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

from levante.db import faults
from levante.db.connect import make_engine, writing
from tests.refusal import need_refusal, refused

meta = MetaData()
notes = Table("refusal_notes", meta, Column("id", Integer, primary_key=True),
              Column("text", String(50), nullable=False))
log = logging.getLogger("tests.refusal")


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    need_refusal(database_url, tmp_path)
    engine = make_engine(database_url, busy_timeout=2.0)
    meta.create_all(engine)
    with writing(engine) as conn:
        conn.execute(insert(notes).values(id=1, text="before"))
    yield engine
    engine.dispose()


def _add(db: Engine, note_id: int, text: str) -> None:
    with writing(db) as conn:
        conn.execute(insert(notes).values(id=note_id, text=text))


def _texts(db: Engine) -> list[str]:
    with db.connect() as conn:
        return list(conn.execute(select(notes.c.text).order_by(notes.c.id)).scalars())


def test_a_refusal_is_recognised_and_other_errors_are_not(
        db: Engine, database_url: str) -> None:
    with refused([database_url]):
        for _ in range(3):  # open connections, and those opened during the refusal
            with pytest.raises(Exception) as caught:
                _add(db, 2, "during")
            assert faults.refuses_writes(caught.value), caught.value
        assert _texts(db) == ["before"]  # reads go on
    time.sleep(1.1)  # (PostgreSQL: a session opened read-only is replaced after 1 s)
    with pytest.raises(IntegrityError) as duplicate:  # the first write after: no refusal
        _add(db, 1, "again")
    assert not faults.refuses_writes(duplicate.value)
    assert not faults.refuses_writes(ValueError("database is locked"))


def test_a_write_refused_is_kept_and_recorded_once_writes_work_again(
        db: Engine, database_url: str) -> None:
    """The write starts while the database refuses it, waits, and lands once, with no
    new Engine (the pool drops the connections that the refusal left read-only)."""
    done: list[float] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            faults.retry_writes(lambda: _add(db, 3, "kept"), 60.0, "a note", log)
            done.append(time.monotonic())
        except BaseException as exc:  # reported below
            errors.append(exc)

    with refused([database_url]):
        thread = threading.Thread(target=work)
        thread.start()
        time.sleep(3.0)
        assert not done and not errors  # still waiting
        lifted = time.monotonic()
    thread.join(30)
    time.sleep(1.1)
    assert not errors, errors
    assert done and done[0] >= lifted
    assert _texts(db) == ["before", "kept"]
    _add(db, 4, "after")  # and the pool writes as before, at the first try
    _add(db, 5, "again")
    assert _texts(db) == ["before", "kept", "after", "again"]


def test_retrying_gives_up_after_its_time(db: Engine, database_url: str) -> None:
    with refused([database_url]):
        started = time.monotonic()
        with pytest.raises(Exception) as caught:
            faults.retry_writes(lambda: _add(db, 5, "never"), 1.5, "a note", log)
        assert faults.refuses_writes(caught.value)
        assert 1.4 <= time.monotonic() - started < 10
    assert _texts(db) == ["before"]
