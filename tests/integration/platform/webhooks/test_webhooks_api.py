"""/v1/webhooks over HTTP on SQLite and PostgreSQL: a URL hook records an instance of
each ``core.st2.webhook`` trigger of that URL with the body and headers, the generic
``st2`` hook one of the trigger named; 202 with what was posted; errors as StackStorm's;
the engine's event receiver (``/v1/webhooks/levante``) is untouched."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Engine, select

from levante.db.connect import writing
from levante.jsontext import MAX_BODY
from levante.platform.triggers.store import ensure_trigger, upsert_trigger_type
from levante.platform.triggers.tables import trigger_instances
from tests.integration.platform.service.conftest import Served


def recorded(db: Engine, trigger: str) -> list[Any]:
    with db.connect() as conn:
        return [r.payload for r in conn.execute(
            select(trigger_instances.c.payload).where(trigger_instances.c.trigger == trigger)
            .order_by(trigger_instances.c.id))]


def test_url_and_generic_webhooks(served: Served) -> None:
    db = served.engine
    with writing(db) as conn:
        hook = ensure_trigger(conn, "core.st2.webhook", {"url": "alerts/disk"})
        other = ensure_trigger(conn, "core.st2.webhook", {"url": "/other/"})
        upsert_trigger_type(conn, "testpack.event")
    with served.client() as c:
        posted = c.post("/webhooks/alerts/disk", json={"host": "web1", "used": 97},
                        headers={"X-GitHub-Event": "push"})
        assert posted.status_code == 202, posted.text
        assert posted.json() == {"host": "web1", "used": 97}
        (payload,) = recorded(db, hook)
        assert payload["body"] == {"host": "web1", "used": 97}
        assert payload["headers"]["X-Github-Event"] == "push"
        assert payload["headers"]["Content-Type"] == "application/json"
        assert "St2-Api-Key" not in payload["headers"]  # credentials never recorded
        assert c.post("/webhooks/other", json=[1, 2]).status_code == 202
        form = c.post("/webhooks/other/", data={"a": "1", "b": "two"})
        assert form.status_code == 202
        assert [p["body"] for p in recorded(db, other)] == [[1, 2], {"a": "1", "b": "two"}]
        empty = c.post("/webhooks/other")
        assert empty.status_code == 202 and empty.json() == {}
        nul = c.post("/webhooks/other", content=b"a=%00",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert nul.status_code == 400 and "'a'" in nul.json()["faultstring"], nul.text
        assert len(recorded(db, other)) == 3  # (the empty one, not this one)

        bad = c.post("/webhooks/alerts/disk", content=b"{not json",
                     headers={"Content-Type": "application/json"})
        assert bad.status_code == 400 and "not valid JSON" in bad.json()["faultstring"]
        assert "The webhook's body" in bad.json()["faultstring"]
        latin = c.post("/webhooks/other", content="a=é".encode("latin-1"),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert latin.status_code == 400 and "not UTF-8" in latin.json()["faultstring"]
        for kind in ("application/json", "application/x-www-form-urlencoded"):
            big = c.post("/webhooks/other", content=b"a" * (MAX_BODY + 1),
                         headers={"Content-Type": kind})
            assert big.status_code == 413, big.text
        assert len(recorded(db, other)) == 3
        missing = c.post("/webhooks/nowhere", json={})
        assert missing.status_code == 404
        assert missing.json()["faultstring"] == "Webhook nowhere not found."
        assert len(recorded(db, hook)) == 1

        generic = c.post("/webhooks/st2", json={"trigger": "testpack.event",
                                                  "payload": {"k": "v"}})
        assert generic.status_code == 202
        assert generic.json() == {"trigger": "testpack.event", "payload": {"k": "v"}}
        assert recorded(db, "testpack.event") == [{"k": "v"}]
        assert c.post("/webhooks/st2", json={"trigger": hook}).status_code == 202
        assert recorded(db, hook)[-1] == {}
        unknown = c.post("/webhooks/st2", json={"trigger": "nope.nothing", "payload": {}})
        assert unknown.status_code == 404 and "nope.nothing" in unknown.json()["faultstring"]
        for body, words in (({"payload": {}}, "Trigger not specified"),
                            ({"trigger": 3}, "'trigger'"),
                            ({"trigger": "testpack.event", "payload": [1]}, "'payload'"),
                            ([1], "must be an object")):
            refused = c.post("/webhooks/st2", json=body)
            assert refused.status_code == 400 and words in refused.json()["faultstring"]

        listed = c.get("/webhooks").json()
        assert {d["parameters"]["url"] for d in listed} == {"alerts/disk", "/other/"}
        assert c.get("/webhooks/alerts/disk").json()["ref"] == hook
        assert c.get("/webhooks/none").status_code == 404
    # Authenticated like every route; the key may come as a query parameter (st2's).
    assert httpx.post(f"{served.url}/webhooks/other", json={}).status_code == 401
    query = httpx.post(f"{served.url}/webhooks/other", json={"q": 1},
                       params={"st2-api-key": served.key})
    assert query.status_code == 202
    # The engine's event receiver keeps its route: an unsigned post is refused by it.
    receiver = httpx.post(f"{served.url}/webhooks/levante", json={})
    assert receiver.status_code in (400, 401, 403)
    assert "not found" not in receiver.text
