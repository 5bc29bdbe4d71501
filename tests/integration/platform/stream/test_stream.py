"""/v1/stream over real HTTP on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from levante.platform.stream.hub import END, QUEUE_SIZE, Filter, Item, Subscriber
from tests.harness import migrated_sqlite
from tests.integration.platform.service.conftest import Served, wait_status
from tests.integration.platform.stream.sse import SseReader

SCRIPT = "for i in 1 2 3; do echo line$i; sleep 0.2; done"


def _stream(served: Served, **params: str) -> SseReader:
    return SseReader(served.url + "/stream", params,
                     headers={"St2-Api-Key": served.key})


def test_an_action_s_life_and_output_arrive_live(served: Served) -> None:
    reader = _stream(served)
    try:
        assert reader.status == 200
        with served.client() as client:
            started = client.post("/executions", json={"action": "core.local",
                                                       "parameters": {"cmd": SCRIPT}})
            assert started.status_code == 201, started.text
            execution_id = started.json()["id"]
        seen = reader.until(lambda e: e.name == "st2.liveaction__update"
                            and e.data["id"] == execution_id
                            and e.data["status"] == "succeeded")
        mine = [e for e in seen if e.data.get("id") == execution_id
                or e.data.get("execution_id") == execution_id]
        names = [e.name for e in mine]
        assert names[:2] == ["st2.execution__create", "st2.liveaction__create"]
        # Bodies are the execution as read just after the change (it may have moved on).
        assert mine[0].data["status"] in ("requested", "running")
        assert mine[0].data["action"]["ref"] == "core.local"
        assert "st2.liveaction__update" in names
        statuses = [e.data["status"] for e in mine if e.name == "st2.execution__update"]
        assert statuses[0] == "running" and statuses[-1] == "succeeded"
        output = [e.data for e in mine if e.name == "st2.execution.output__create"]
        assert "".join(o["data"] for o in output) == "line1\nline2\nline3\n"
        assert {o["output_type"] for o in output} == {"stdout"}
        assert output[0]["action_ref"] == "core.local"
        # Live: the lines came ~0.2 s apart, before the execution ended.
        lines = [e for e in mine if e.name == "st2.execution.output__create"]
        assert lines[-1].at - lines[0].at > 0.25
        assert lines[0].at < mine[-1].at - 0.25
    finally:
        reader.close()


def test_filters(served: Served) -> None:
    only_output = _stream(served, events="st2.execution.output__create")
    only_noop = _stream(served, action_refs="core.noop")
    try:
        with served.client() as client:
            local = client.post("/executions", json={
                "action": "core.local", "parameters": {"cmd": "echo hi"}}).json()["id"]
            wait_status(client, local, {"succeeded"})
            noop = client.post("/executions", json={"action": "core.noop"}).json()["id"]
            wait_status(client, noop, {"succeeded"})
        by_id = _stream(served, execution_id=local)
        try:
            got = only_output.until(lambda e: e.data.get("data") == "hi\n")
            assert {e.name for e in got} == {"st2.execution.output__create"}
            seen = only_noop.until(lambda e: e.name == "st2.execution__update"
                                   and e.data["status"] == "succeeded")
            assert {e.data.get("id") for e in seen} == {noop}
            assert "st2.execution.output__create" not in {e.name for e in seen}
        finally:
            by_id.close()
    finally:
        only_output.close()
        only_noop.close()


def test_execution_id_filter_and_end_of_stream(served: Served, tmp_path: Path) -> None:
    go = tmp_path / "go"
    with served.client() as client:
        started = client.post("/executions", json={
            "action": "core.local",
            "parameters": {"cmd": f"while [ ! -f {go} ]; do sleep 0.02; done; echo done"},
        }).json()
        other = client.post("/executions", json={"action": "core.noop"}).json()["id"]
        reader = _stream(served, execution_id=started["id"],
                         end_event="st2.execution__update", end_execution_id=started["id"])
        go.touch()  # the stream is open (and reading the feed): the action may end now
        try:
            seen = reader.until(lambda e: e.name == "st2.execution__update"
                                and e.data["status"] == "succeeded")
            assert other not in {e.data.get("id") for e in seen}
            assert all(e.data.get("execution_id", e.data.get("id")) == started["id"]
                       for e in seen)
            assert reader.ended(), "the stream did not end after end_event"
        finally:
            reader.close()


def test_the_stream_is_authenticated(served: Served) -> None:
    url = served.url + "/stream"
    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url, params={"st2-api-key": "wrong"}, timeout=10).status_code == 401
    bad = httpx.get(url, params={"st2-api-key": served.key, "events": "st2.nothing"},
                    timeout=10)
    assert bad.status_code == 400 and "st2.nothing" in bad.json()["faultstring"]
    # The key as a query parameter (what st2client sends) opens it.
    reader = SseReader(url, {"st2-api-key": served.key})
    try:
        assert reader.status == 200
    finally:
        reader.close()


def test_a_slow_subscriber_is_cut_off_not_waited_for() -> None:
    async def go() -> None:
        sub = Subscriber(Filter())
        for n in range(QUEUE_SIZE):
            sub.offer(Item(b"x", "e", str(n)))
        assert not sub.dropped
        sub.offer(Item(b"one too many"))  # never blocks
        assert sub.dropped
        assert sub.queue.qsize() == 1 and sub.queue.get_nowait() == END
        sub.offer(Item(b"later"))
        assert sub.queue.empty()

    asyncio.run(go())


def test_pruning_keeps_the_feed_numbered_forward(sqlite_url: str) -> None:
    """Old rows are deleted, never the newest: SQLite numbers the next row after it."""
    from sqlalchemy import func, insert, select

    from levante.db.connect import make_engine, writing
    from levante.platform.stream import changes
    from levante.platform.stream.tables import stream_changes

    migrated_sqlite(sqlite_url)
    db = make_engine(sqlite_url)
    try:
        with writing(db) as conn:
            conn.execute(insert(stream_changes), [
                {"op": "update", "execution_id": f"{n:024x}", "first_seq": None, "at": 1.0}
                for n in range(5)])
            last = conn.execute(select(func.max(stream_changes.c.seq))).scalar_one()
        # Every PRUNE_EVERY-th record of a process prunes; all rows but these are old.
        with writing(db) as conn:
            for _ in range(changes.PRUNE_EVERY):
                changes.record(conn, "update", ["f" * 24])
        with writing(db) as conn:
            seqs = [r[0] for r in conn.execute(select(stream_changes.c.seq))]
            old = conn.execute(select(func.count()).select_from(stream_changes)
                               .where(stream_changes.c.at == 1.0)).scalar_one()
        assert old == 0 and min(seqs) > last
        # Even when every row is old, the newest stays, so numbers keep growing.
        with writing(db) as conn:
            conn.execute(stream_changes.update().values(at=1.0))
            for _ in range(changes.PRUNE_EVERY):
                changes.record(conn, "update", ["e" * 24])
            top = conn.execute(select(func.max(stream_changes.c.seq))).scalar_one()
        assert top > max(seqs)
    finally:
        db.dispose()
