"""Every SQL statement of the webhooks: which triggers a URL names, and the instances a
request records (one transaction: the lookup, one insert, the commit)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, select

from levante.db.connect import reading, writing
from levante.db.times import now
from levante.platform.triggers.builtin import WEBHOOK as WEBHOOK_TYPE
from levante.platform.triggers.store import record_instance
from levante.platform.triggers.tables import trigger_types, triggers

GENERIC_URL = "st2"

Row = dict[str, Any]

_WEBHOOKS = select(triggers).where(triggers.c.type == WEBHOOK_TYPE).order_by(triggers.c.ref)


def normalized(url: str) -> str:
    """A hook's URL as StackStorm compares them: without leading or trailing slashes."""
    return url.strip("/")


def url_of(row: Row) -> str:
    params = row.get("parameters")
    url = params.get("url") if isinstance(params, dict) else None
    return normalized(url) if isinstance(url, str) else ""


def webhook_triggers(conn: Connection, url: str) -> list[str]:
    """The refs of the ``core.st2.webhook`` triggers whose ``url`` is ``url``."""
    wanted = normalized(url)
    return [str(r["ref"]) for r in (dict(x._mapping) for x in conn.execute(_WEBHOOKS))
            if url_of(r) == wanted]


def list_webhooks(engine: Engine) -> list[Row]:
    """Every ``core.st2.webhook`` trigger (what ``GET /v1/webhooks`` shows)."""
    with reading(engine) as conn:
        return [dict(r._mapping) for r in conn.execute(_WEBHOOKS)]


def _record(conn: Connection, refs: Sequence[str], payload: Any) -> list[str]:
    """One instance per trigger (the rules engines are woken once it commits)."""
    stamp = now()
    return [record_instance(conn, ref, payload, occurrence_time=stamp) for ref in refs]


def post_url(engine: Engine, url: str, payload: Any) -> list[str] | None:
    """Record an instance of every webhook trigger of ``url``; their ids, or None when no
    trigger has that URL (nothing is written then)."""
    with writing(engine) as conn:
        refs = webhook_triggers(conn, url)
        if not refs:
            return None
        return _record(conn, refs, payload)


def trigger_known(conn: Connection, ref: str) -> bool:
    """Whether ``ref`` names a trigger, or a trigger type (a parameterless type is its own
    trigger, whether or not a rule made its row yet)."""
    found = conn.execute(select(triggers.c.ref).where(triggers.c.ref == ref).union_all(
        select(trigger_types.c.ref).where(trigger_types.c.ref == ref)).limit(1)).first()
    return found is not None


def post_generic(engine: Engine, ref: str, payload: Any) -> str | None:
    """Record one instance of trigger ``ref``; its id, or None when no such trigger."""
    with writing(engine) as conn:
        if not trigger_known(conn, ref):
            return None
        return _record(conn, [ref], payload)[0]
