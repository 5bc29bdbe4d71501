"""Every SQL statement of the platform, as plain functions over a SQLAlchemy engine.

Writers that read then write (claims, status changes) run in ``BEGIN IMMEDIATE`` on SQLite
and use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several runner processes never take
the same execution. Status changes are compare-and-set on the current status, so a cancel
and a finish that race end in exactly one of them.

On PostgreSQL most hot paths are one statement in autocommit, i.e. one round trip: no
BEGIN/COMMIT around it (the claim picks, locks and marks running in one UPDATE; the ends of
many executions are written by one UPDATE). An ending is a transaction: the trigger
instances it records (``core.st2.generic.actiontrigger``, notify) commit with it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

from levante.contract.states import DONE
from levante.db.connect import autocommit, writing
from levante.db.connect import reading as reading  # (the platform's stores read through it)
from levante.db.listing import COUNT_CAP, capped_count
from levante.db.local import local_of
from levante.db.metadata import processes
from levante.db.times import aware as aware
from levante.db.times import now as now
from levante.identity import store as identity_store
from levante.identity.keys import new_id as new_id
from levante.platform.core.models import actions, execution_output, executions, packs
from levante.platform.stream import changes as stream
from levante.platform.triggers import execution_ends
from levante.platform.workflows import reports as engine_reporting

Row = dict[str, Any]

log = logging.getLogger("levante.platform.core.store")




def _rows(result: Iterable[Any]) -> list[Row]:
    return [dict(r._mapping) for r in result]


def _skip_locked(engine: Engine) -> bool:
    return engine.dialect.name != "sqlite"


@contextmanager
def one_statement(engine: Engine) -> Iterator[Connection]:
    """For a write that is a single statement: autocommit on PostgreSQL (atomic by itself,
    one round trip), ``BEGIN IMMEDIATE`` on SQLite."""
    if engine.dialect.name == "sqlite":
        with writing(engine) as conn:
            yield conn
        return
    with autocommit(engine).connect() as conn:
        yield conn


# --- packs and actions --------------------------------------------------------------------


def save_pack(
    engine: Engine, pack: Row, action_rows: Sequence[Row], replace: bool = True
) -> tuple[int, int]:
    """Upsert a pack and its actions; with ``replace``, drop its actions not listed.

    Returns (actions written, actions removed). Action ids survive re-registration.
    """
    stamp = now()
    with writing(engine) as conn:
        existing = conn.execute(select(packs.c.id).where(packs.c.ref == pack["ref"])).first()
        if existing:
            conn.execute(
                update(packs).where(packs.c.ref == pack["ref"]).values(
                    **{k: v for k, v in pack.items() if k not in ("ref", "id")},
                    registered_at=stamp,
                )
            )
        else:
            conn.execute(insert(packs).values(**pack, id=new_id(), registered_at=stamp))
        ids = dict(
            conn.execute(
                select(actions.c.ref, actions.c.id).where(actions.c.pack == pack["ref"])
            ).all()
        )
        for row in action_rows:
            if row["ref"] in ids:
                conn.execute(
                    update(actions).where(actions.c.ref == row["ref"]).values(
                        **{k: v for k, v in row.items() if k != "ref"}, updated_at=stamp
                    )
                )
            else:
                other = conn.execute(
                    select(actions.c.id).where(actions.c.ref == row["ref"])
                ).first()
                if other:  # same ref registered under another pack name: take it over
                    conn.execute(delete(actions).where(actions.c.ref == row["ref"]))
                conn.execute(
                    insert(actions).values(
                        **row, id=new_id(), created_at=stamp, updated_at=stamp
                    )
                )
        removed = 0
        if replace:
            keep = {r["ref"] for r in action_rows}
            gone = [ref for ref in ids if ref not in keep]
            if gone:
                removed = conn.execute(delete(actions).where(actions.c.ref.in_(gone))).rowcount
    return len(action_rows), removed


def list_packs(engine: Engine) -> list[Row]:
    with reading(engine) as conn:
        return _rows(conn.execute(select(packs).order_by(packs.c.ref)))


def get_pack(engine: Engine, ref_or_id: str) -> Row | None:
    with reading(engine) as conn:
        row = conn.execute(
            select(packs).where(or_(packs.c.ref == ref_or_id, packs.c.id == ref_or_id))
        ).first()
    return dict(row._mapping) if row else None


def pack_paths(engine: Engine) -> dict[str, str]:
    with reading(engine) as conn:
        return {r.ref: r.path for r in conn.execute(select(packs.c.ref, packs.c.path))}


def list_actions(
    engine: Engine, pack: str | None = None, limit: int | None = None, offset: int = 0,
    name: str | None = None,
) -> tuple[list[Row], int]:
    query = select(actions)
    count = select(func.count()).select_from(actions)
    if pack:
        query = query.where(actions.c.pack == pack)
        count = count.where(actions.c.pack == pack)
    if name:
        query = query.where(actions.c.name == name)
        count = count.where(actions.c.name == name)
    query = query.order_by(actions.c.ref).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with reading(engine) as conn:
        return _rows(conn.execute(query)), int(conn.execute(count).scalar_one())


def get_action(engine: Engine, ref_or_id: str) -> Row | None:
    with reading(engine) as conn:
        row = conn.execute(
            select(actions).where(or_(actions.c.ref == ref_or_id, actions.c.id == ref_or_id))
        ).first()
    return dict(row._mapping) if row else None


def insert_action(engine: Engine, row: Row) -> Row:
    stamp = now()
    full = {**row, "id": new_id(), "created_at": stamp, "updated_at": stamp}
    with writing(engine) as conn:
        conn.execute(insert(actions).values(**full))
    return full


def update_action(engine: Engine, action_id: str, values: Row) -> None:
    with writing(engine) as conn:
        conn.execute(
            update(actions).where(actions.c.id == action_id).values(**values, updated_at=now())
        )


def delete_action(engine: Engine, action_id: str) -> bool:
    with writing(engine) as conn:
        return bool(conn.execute(delete(actions).where(actions.c.id == action_id)).rowcount)


# --- executions ---------------------------------------------------------------------------


NOTIFY_CHANNEL = "levante_platform"


class Origin:
    """Tags the notifications sent through one engine (a part of its Local): a runner on
    that engine, woken in-process already, skips them; any other runner heeds them."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(4)


def origin_token(engine: Engine) -> str:
    """The tag of ``engine``'s notifications (see `Origin`)."""
    return local_of(engine).part(Origin).token


# Hot statements built once (SQLAlchemy then reuses their compiled form).
_INSERT_EXECUTION = insert(executions)
_GET_EXECUTION = select(executions).where(executions.c.id == bindparam("b_id"))
_CLAIM = (
    select(executions)
    .where(executions.c.status == "requested")
    .order_by(executions.c.start_timestamp, executions.c.id)
    .limit(bindparam("n"))
)
_CLAIM_LOCKED = _CLAIM.with_for_update(skip_locked=True)
_MARK_CLAIMED = (
    update(executions)
    .where(executions.c.id == bindparam("b_id"))
    .values(status="running", claimed_by=bindparam("claimed_by"),
            lease_until=bindparam("lease_until"), log=bindparam("log"))
)
# Only the executions named (the ids that wake-ups carry): found by primary key, so the
# cost does not grow with the dead index entries that past status changes leave behind.
_CLAIM_IDS = _CLAIM.where(executions.c.id.in_(bindparam("ids", expanding=True)))


def _claim_and_mark(pick: Any) -> Any:
    """PostgreSQL: pick (skipping rows other runners are taking), mark running and read
    back, in one statement. The picked rows are locked and re-checked by the subquery, so
    no two runners take the same execution."""
    picked = pick.with_for_update(skip_locked=True).with_only_columns(executions.c.id).cte(
        "picked"
    )
    return (
        update(executions)
        .where(executions.c.id == picked.c.id)
        .values(
            status="running",
            claimed_by=bindparam("claimed_by"),
            lease_until=bindparam("lease_until"),
            log=cast(
                func.coalesce(cast(executions.c.log, JSONB), literal_column("'[]'::jsonb"))
                .op("||")(cast(bindparam("entry", type_=JSON), JSONB)),
                JSON,
            ),
        )
        .returning(*executions.c)
    )


_CLAIM_AND_MARK = _claim_and_mark(_CLAIM)
_CLAIM_IDS_AND_MARK = _claim_and_mark(_CLAIM_IDS)
_FINISH = (
    update(executions)
    .where(executions.c.id == bindparam("b_id"), executions.c.status == "running")
    .values(status=bindparam("status"), result=bindparam("result"),
            end_timestamp=bindparam("end_timestamp"), lease_until=None, log=bindparam("log"))
)


@asynccontextmanager
async def listening(engine: Engine, channel: str = NOTIFY_CHANNEL
                    ) -> AsyncIterator[AsyncIterator[str]]:
    """On PostgreSQL: a connection of its own that LISTENs on ``channel`` (by default
    `NOTIFY_CHANNEL`); gives the payloads of the notifications as they come. Errors (a
    lost connection) go to the caller."""
    # lazy: keeps CLI start fast (psycopg loads only on PostgreSQL)
    import psycopg  # the driver, loaded only by the processes that listen

    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute(f"LISTEN {channel}")
        yield (note.payload async for note in conn.notifies())


async def listen_until(engine: Engine, stopping: asyncio.Event,
                       on_payload: Callable[[str], None], *, channel: str = NOTIFY_CHANNEL,
                       on_connect: Callable[[], None] | None = None,
                       logger: logging.Logger = log,
                       meanwhile: str = "polling meanwhile") -> None:
    """LISTEN on ``channel`` until ``stopping``, calling ``on_payload`` for each
    notification (and ``on_connect`` each time the connection is made); a lost connection
    is tried again with backoff (0.5 s, doubling up to 10 s); ``meanwhile`` says in the
    warning what the caller does in between."""
    delay = 0.5
    while not stopping.is_set():
        try:
            async with listening(engine, channel) as payloads:
                delay = 0.5
                if on_connect is not None:
                    on_connect()
                async for payload in payloads:
                    on_payload(payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.warning("LISTEN connection lost (%s); %s", exc, meanwhile)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


_NOTIFY = text(f"SELECT pg_notify('{NOTIFY_CHANNEL}', :payload)")  # built once


def _pg_notify(engine: Engine, conn: Connection, event: str, execution_id: str) -> None:
    if _skip_locked(engine):
        conn.execute(_NOTIFY, {"payload": f"{event}:{execution_id}:{origin_token(engine)}"})


def notify(engine: Engine, event: str, execution_id: str) -> None:
    """Wake runners in other processes (PostgreSQL LISTEN/NOTIFY; SQLite: nothing)."""
    if _skip_locked(engine):
        with one_statement(engine) as conn:
            _pg_notify(engine, conn, event, execution_id)


def insert_execution(engine: Engine, row: Row, wake: bool = True) -> None:
    """Store a new execution; ``wake`` runners of other processes (PostgreSQL NOTIFY).

    The NOTIFY is its own statement, after the commit: a transaction that notifies holds
    PostgreSQL's global notify lock through its commit, disk flush included, which would
    let only one insert commit at a time. Alone, it writes nothing and waits for no disk.
    """
    with one_statement(engine) as conn:
        conn.execute(_INSERT_EXECUTION, row)
        stream.record(conn, "create", [row["id"]])
        if wake:
            # The execution is stored (committed): a failed wake-up (the session ended,
            # the database turned read-only) must not fail the request, or a client that
            # tries again would start a second execution. Runners poll as well.
            try:
                _pg_notify(engine, conn, "requested", row["id"])
            except Exception as exc:
                log.warning("[%s] stored, but runners could not be woken (%s): they find "
                            "it at their next poll", row["id"], type(exc).__name__)


def insert_executions_on(conn: Connection, rows: Sequence[Row]) -> None:
    """Store new executions on ``conn``, in the caller's transaction (no wake-up)."""
    if rows:
        conn.execute(_INSERT_EXECUTION, list(rows))
        stream.record(conn, "create", [row["id"] for row in rows])


def get_execution(engine: Engine, execution_id: str) -> Row | None:
    with reading(engine) as conn:
        row = conn.execute(_GET_EXECUTION, {"b_id": execution_id}).first()
    return dict(row._mapping) if row else None


_GET_STATUS = select(
    executions.c.id, executions.c.status, executions.c.start_timestamp,
    executions.c.end_timestamp, executions.c.parent,
).where(executions.c.id == bindparam("b_id"))


def get_execution_status(engine: Engine, execution_id: str) -> Row | None:
    """Only id, status, timestamps and parent: what a client polling for the end reads."""
    with reading(engine) as conn:
        row = conn.execute(_GET_STATUS, {"b_id": execution_id}).first()
    return dict(row._mapping) if row else None


def list_executions(
    engine: Engine,
    action: str | None = None,
    status: str | None = None,
    parent: str | None = None,
    user: str | None = None,
    limit: int | None = 50,
    offset: int = 0,
    ascending: bool = False,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
    count_cap: int = COUNT_CAP,
) -> tuple[list[Row], int]:
    """Executions, newest first by default, with the count of the filter (bounded, see COUNT_CAP).

    ``parent`` may be ``"null"`` for top-level executions only (as st2's CLI asks). The page
    is found on the index of the filter (ids only), then its rows are read: skipped rows
    and rows past the page are never read from the table.
    """
    conditions = []
    if action:
        conditions.append(executions.c.action_ref == action)
    if status:
        conditions.append(executions.c.status == status)
    if parent == "null":
        conditions.append(executions.c.parent.is_(None))
    elif parent:
        conditions.append(executions.c.parent == parent)
    if user:
        conditions.append(executions.c.user == user)
    if started_after is not None:
        conditions.append(executions.c.start_timestamp > started_after)
    if started_before is not None:
        conditions.append(executions.c.start_timestamp < started_before)
    where = and_(true(), *conditions)
    order = (
        (executions.c.start_timestamp.asc(), executions.c.id.asc())
        if ascending else (executions.c.start_timestamp.desc(), executions.c.id.desc())
    )
    page = select(executions.c.id).where(where).order_by(*order).offset(offset)
    if limit is not None:
        page = page.limit(limit)
    with reading(engine) as conn:
        ids = [row[0] for row in conn.execute(page)]
        by_id = {
            row["id"]: row
            for row in _rows(conn.execute(select(executions).where(executions.c.id.in_(ids))))
        } if ids else {}
        # (st2 only needs to know whether more than it shows exist)
        total = capped_count(conn, executions.c.id, [where], limit, offset, count_cap)
    return [by_id[i] for i in ids if i in by_id], total


def child_executions(engine: Engine, parent_id: str) -> list[Row]:
    with reading(engine) as conn:
        return _rows(
            conn.execute(
                select(executions)
                .where(executions.c.parent == parent_id)
                .order_by(executions.c.start_timestamp, executions.c.id)
            )
        )


def child_ids(engine: Engine, parent_ids: Sequence[str]) -> dict[str, list[str]]:
    """For each parent id, the ids of its children, oldest first."""
    if not parent_ids:
        return {}
    found: dict[str, list[str]] = {p: [] for p in parent_ids}
    with reading(engine) as conn:
        for row in conn.execute(
            select(executions.c.parent, executions.c.id)
            .where(executions.c.parent.in_(list(parent_ids)))
            .order_by(executions.c.start_timestamp, executions.c.id)
        ):
            found[row.parent].append(row.id)
    return found


def transition(
    engine: Engine,
    execution_id: str,
    from_statuses: Iterable[str],
    to_status: str,
    values: Row | None = None,
    known: tuple[str, list[Any]] | None = None,
) -> Row | None:
    """Move an execution to ``to_status`` if it is in one of ``from_statuses``.

    Appends to its ``log`` and sets ``values``; compare-and-set on the old status, retried
    when another writer got there first. ``known`` (status, log) saves the first read.
    Returns the updated fields, or None when the execution is not in an allowed status.
    """
    allowed = set(from_statuses)
    values = dict(values or {})
    for _ in range(20):
        if known is None:
            with reading(engine) as conn:
                row = conn.execute(
                    select(executions.c.status, executions.c.log).where(
                        executions.c.id == execution_id
                    )
                ).first()
            if row is None:
                return None
            current, log = row.status, list(row.log or [])
        else:
            current, log = known[0], list(known[1])
            known = None
        if current not in allowed:
            return None
        stamp = values.pop("_stamp", None) or now()
        new_log = [*log, {"timestamp": iso(stamp), "status": to_status}]
        fields = {**values, "status": to_status, "log": new_log}
        # A report to the engine may be due, and an ending records its trigger instances:
        # written in the same transaction.
        reporting = to_status in engine_reporting.REPORTED_STATUSES
        ending = to_status in DONE and current not in DONE
        with writing(engine) if reporting or ending else one_statement(engine) as conn:
            changed = conn.execute(
                update(executions)
                .where(executions.c.id == execution_id, executions.c.status == current)
                .values(**fields)
            ).rowcount
            if changed and reporting:
                engine_reporting.on_status(conn, execution_id, to_status, fields.get("result"))
            if changed and ending:
                execution_ends.record_ends(conn, [(execution_id, to_status)])
            if changed:
                stream.record(conn, "update", [execution_id])
        if changed:
            return fields
    return None


def claim_requested(
    engine: Engine, process_id: str, count: int, lease: float,
    ids: Sequence[str] | None = None,
) -> list[Row]:
    """Take up to ``count`` requested executions, oldest first, and mark them running.

    With ``ids``, only among those (they need not be requested any more: the others are
    skipped).
    """
    stamp = now()
    until = stamp + timedelta(seconds=lease)
    entry = {"timestamp": iso(stamp), "status": "running"}
    params: dict[str, Any] = {"n": count}
    if ids is not None:
        if not ids:
            return []
        params["ids"] = list(ids)
    if _skip_locked(engine):
        with one_statement(engine) as conn:
            taken = _rows(conn.execute(
                _CLAIM_AND_MARK if ids is None else _CLAIM_IDS_AND_MARK,
                {**params, "claimed_by": process_id, "lease_until": until, "entry": [entry]},
            ))
            stream.record(conn, "update", [r["id"] for r in taken])
        taken.sort(key=lambda r: (aware(r["start_timestamp"]), r["id"]))
        return taken
    with writing(engine) as conn:
        rows = _rows(conn.execute(_CLAIM if ids is None else _CLAIM_IDS, params))
        if not rows:
            return []
        for row in rows:
            row["log"] = [*(row["log"] or []), entry]
            row["status"] = "running"
            row["claimed_by"] = process_id
            row["lease_until"] = until
        conn.execute(
            _MARK_CLAIMED,
            [{"b_id": r["id"], "log": r["log"], "claimed_by": process_id, "lease_until": until}
             for r in rows],
        )
        stream.record(conn, "update", [r["id"] for r in rows])
    return rows


def finish(
    engine: Engine, execution_id: str, status: str, result: Any, log: list[Any],
    context: Any = None,
) -> bool:
    """End a running execution (one UPDATE when nobody changed its status meanwhile).

    A child of a workflow task (``context.mistral``; None: not known) reports its end to
    the engine: that row is written in the same transaction.
    """
    stamp = now()
    params = {
        "b_id": execution_id,
        "status": status,
        "result": result,
        "end_timestamp": stamp,
        "log": [*log, {"timestamp": iso(stamp), "status": status}],
    }
    reporting = engine_reporting.may_report(context)
    # The end, its report (if due) and its trigger instances: one transaction.
    with writing(engine) as conn:
        changed = conn.execute(_FINISH, params).rowcount
        if changed and reporting:
            engine_reporting.on_status(conn, execution_id, status, result, context=context)
        if changed:
            execution_ends.record_ends(conn, [(execution_id, status)])
            stream.record(conn, "update", [execution_id])
    return bool(changed)


# PostgreSQL: end many running executions in one statement (one round trip, one commit).
_FINISH_MANY = text(
    "UPDATE executions AS e SET status = v.status, result = CAST(v.result AS json),"
    " end_timestamp = :end_timestamp, lease_until = NULL, log = CAST(v.log AS json)"
    " FROM unnest(CAST(:ids AS text[]), CAST(:statuses AS text[]),"
    " CAST(:results AS text[]), CAST(:logs AS text[])) AS v(id, status, result, log)"
    " WHERE e.id = v.id AND e.status = 'running' RETURNING e.id, e.status"
)


def finish_many(engine: Engine, ended: Sequence[tuple[str, str, Any, list[Any]]]) -> set[str]:
    """End running executions, each ``(id, status, result, log so far)``; returns the ids
    ended (the others changed status meanwhile). One statement on PostgreSQL."""
    if len(ended) == 1 or not _skip_locked(engine):
        done: dict[str, str] = {}
        with writing(engine) as conn:
            for execution_id, status, result, log in ended:
                stamp = now()
                if conn.execute(_FINISH, {
                    "b_id": execution_id, "status": status, "result": result,
                    "end_timestamp": stamp,
                    "log": [*log, {"timestamp": iso(stamp), "status": status}],
                }).rowcount:
                    done[execution_id] = status
            execution_ends.record_ends(conn, list(done.items()))
            stream.record(conn, "update", sorted(done))
        return set(done)
    stamp = now()
    entry = iso(stamp)
    params = {
        "end_timestamp": stamp,
        "ids": [e[0] for e in ended],
        "statuses": [e[1] for e in ended],
        "results": [json.dumps(e[2]) for e in ended],
        "logs": [json.dumps([*e[3], {"timestamp": entry, "status": e[1]}]) for e in ended],
    }
    with writing(engine) as conn:
        finished = {r[0]: r[1] for r in conn.execute(_FINISH_MANY, params)}
        execution_ends.record_ends(conn, list(finished.items()))
        stream.record(conn, "update", sorted(finished))
        return set(finished)


def set_first_result(engine: Engine, execution_id: str, result: Any) -> None:
    """Record the result of a running execution that has none yet (e.g. a launched workflow)."""
    with one_statement(engine) as conn:
        if conn.execute(
            update(executions)
            .where(executions.c.id == execution_id, executions.c.status == "running",
                   func.coalesce(cast(executions.c.result, Text), "null") == "null")
            .values(result=result)
        ).rowcount:
            stream.record(conn, "update", [execution_id])


def statuses_of(engine: Engine, ids: Sequence[str]) -> dict[str, str]:
    if not ids:
        return {}
    with reading(engine) as conn:
        return {
            r.id: r.status
            for r in conn.execute(
                select(executions.c.id, executions.c.status).where(
                    executions.c.id.in_(list(ids))
                )
            )
        }


# PostgreSQL text cannot hold NUL characters. A line with one is stored there escaped
# (backslash doubled, NUL as backslash-0) and its stream marked with this suffix; every
# other line, and every line on SQLite, is stored as it is. Readers get the line back as
# it was written, on either database.
_ESCAPED = "+esc"
_NUL_ESCAPES = re.compile(r"\\(.)", re.DOTALL)


def _escape_output(row: Row) -> Row:
    data = row.get("data")
    if not isinstance(data, str) or "\x00" not in data:
        return row
    escaped = data.replace("\\", "\\\\").replace("\x00", "\\0")
    return {**row, "data": escaped, "stream": f"{row['stream']}{_ESCAPED}"}


def _unescape_output(row: Row) -> Row:
    stream = str(row.get("stream") or "")
    if not stream.endswith(_ESCAPED):
        return row
    data = _NUL_ESCAPES.sub(lambda m: "\x00" if m.group(1) == "0" else m.group(1),
                            str(row.get("data") or ""))
    return {**row, "stream": stream[: -len(_ESCAPED)], "data": data}


def append_output(engine: Engine, rows: Sequence[Row]) -> None:
    """Insert output lines (execution_id, seq, stream, data, timestamp) in one transaction."""
    if not rows:
        return
    batch = list(rows)
    if engine.dialect.name != "sqlite":
        batch = [_escape_output(row) for row in batch]
    with one_statement(engine) as conn:
        conn.execute(insert(execution_output), batch)
        for execution_id in dict.fromkeys(str(r["execution_id"]) for r in batch):
            stream.record(conn, "output", [execution_id], min(
                int(r["seq"]) for r in batch if r["execution_id"] == execution_id))


def get_output(
    engine: Engine, execution_id: str, stream: str | None = None, after_seq: int = -1
) -> list[Row]:
    query = (
        select(execution_output)
        .where(execution_output.c.execution_id == execution_id)
        .where(execution_output.c.seq > after_seq)
        .order_by(execution_output.c.seq)
    )
    if stream:
        query = query.where(execution_output.c.stream.in_([stream, stream + _ESCAPED]))
    with reading(engine) as conn:
        return [_unescape_output(row) for row in _rows(conn.execute(query))]


def claimed_active(engine: Engine, statuses: Sequence[str]) -> list[Row]:
    """Executions in ``statuses`` claimed by some runner, with that runner's process row."""
    query = (
        select(
            executions.c.id,
            executions.c.status,
            executions.c.claimed_by,
            executions.c.lease_until,
            executions.c.context,
            executions.c.action,
            processes.c.hostname,
            processes.c.pid,
            processes.c.heartbeat_at,
        )
        .select_from(
            executions.outerjoin(processes, processes.c.id == executions.c.claimed_by)
        )
        .where(executions.c.status.in_(list(statuses)), executions.c.claimed_by.is_not(None))
    )
    with reading(engine) as conn:
        return _rows(conn.execute(query))


# --- executions that only wait (core.pause): held by a timer, not by a runner -------------

# ``claimed_by`` of an execution that only waits: no runner process holds it; its
# ``lease_until`` is when the wait ends (levante.platform.core.waits).
TIMER_CLAIM = "timer"


def hold_for_timer(engine: Engine, execution_id: str, process_id: str, due: datetime) -> bool:
    """Hand a running execution claimed by ``process_id`` over to the wait timers, due at
    ``due``; False when it is no longer that runner's (canceled meanwhile)."""
    with one_statement(engine) as conn:
        return bool(conn.execute(
            update(executions)
            .where(executions.c.id == execution_id, executions.c.status == "running",
                   executions.c.claimed_by == process_id)
            .values(claimed_by=TIMER_CLAIM, lease_until=due)
        ).rowcount)


def timers_due(engine: Engine, until: datetime, limit: int = 500) -> list[Row]:
    """Running executions held by the wait timers whose wait ends by ``until``."""
    with reading(engine) as conn:
        return _rows(conn.execute(
            select(executions.c.id, executions.c.action_ref, executions.c.parameters,
                   executions.c.timeout, executions.c.log, executions.c.context,
                   executions.c.lease_until)
            .where(executions.c.claimed_by == TIMER_CLAIM, executions.c.status == "running",
                   executions.c.lease_until <= until)
            .order_by(executions.c.lease_until).limit(limit)
        ))


def next_timer_due(engine: Engine) -> datetime | None:
    """When the next wait held by the timers ends (None: no wait)."""
    with reading(engine) as conn:
        found = conn.execute(
            select(func.min(executions.c.lease_until))
            .where(executions.c.claimed_by == TIMER_CLAIM, executions.c.status == "running")
        ).scalar()
    return aware(found)


# --- runner processes ---------------------------------------------------------------------


def register_process(engine: Engine, process_id: str, role: str) -> None:
    stamp = now()
    with writing(engine) as conn:
        conn.execute(
            insert(processes).values(
                id=process_id, role=role, hostname=socket.gethostname(), pid=os.getpid(),
                started_at=stamp, heartbeat_at=stamp,
            )
        )


def heartbeat(engine: Engine, process_id: str, lease: float) -> None:
    """Say this process is alive and extend the leases of what it runs."""
    stamp = now()
    with writing(engine) as conn:
        conn.execute(
            update(processes).where(processes.c.id == process_id).values(heartbeat_at=stamp)
        )
        conn.execute(
            update(executions)
            .where(executions.c.claimed_by == process_id, executions.c.lease_until.is_not(None))
            .values(lease_until=stamp + timedelta(seconds=lease))
        )


def other_processes(engine: Engine, role: str, process_id: str) -> int:
    """How many other processes of ``role`` are registered (alive or not yet cleared)."""
    with reading(engine) as conn:
        return int(conn.execute(
            select(func.count()).select_from(processes)
            .where(processes.c.role == role, processes.c.id != process_id)
        ).scalar_one())


def deregister_process(engine: Engine, process_id: str) -> None:
    with writing(engine) as conn:
        conn.execute(delete(processes).where(processes.c.id == process_id))


# --- API keys and tokens: the shared identity tables (their SQL is in levante.identity) ---

insert_api_key = identity_store.insert_api_key
list_api_keys = identity_store.list_api_keys
get_api_key = identity_store.get_api_key
update_api_key = identity_store.update_api_key
delete_api_key = identity_store.delete_api_key
insert_token = identity_store.insert_token
get_token = identity_store.get_token


# --- formatting shared by the service ----------------------------------------------------


def iso(value: datetime | None) -> str | None:
    """StackStorm's timestamp: ISO 8601 in UTC with microseconds and a Z."""
    value = aware(value)
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
