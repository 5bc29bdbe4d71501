"""Key-value writes record StackStorm's key-value triggers in their transaction: create,
update (+ value_change when the value changed), delete; secrets masked, never shown."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from levante.platform.triggers.tables import trigger_instances
from tests.integration.platform.service.conftest import Served

SECRET = "s3cret-never-shown"


def events(db: Engine) -> list[tuple[str, Any]]:
    """(kind, payload) in the order written; the two instances of one write (update and
    value_change) share its millisecond, so they are put in that order."""
    with db.connect() as conn:
        return [(r.trigger.rpartition(".")[2], r.payload) for r in conn.execute(
            select(trigger_instances.c.trigger, trigger_instances.c.payload)
            .where(trigger_instances.c.trigger.like("core.st2.key_value_pair.%"))
            .order_by(trigger_instances.c.id))]


def ordered(found: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    rank = {"create": 0, "update": 1, "value_change": 2, "delete": 3}
    out: list[tuple[str, Any]] = []
    for kind, payload in found:
        if out and kind == "update" and out[-1][0] == "value_change":
            out.insert(len(out) - 1, (kind, payload))
        else:
            out.append((kind, payload))
    assert all(k in rank for k, _ in out)
    return out


def test_put_and_delete_record_key_value_triggers(keyed: Served) -> None:
    db = keyed.engine
    with keyed.client() as c:
        created = c.put("/keys/colour", json={"value": "red"}).json()
        c.put("/keys/colour", json={"value": "red"})
        c.put("/keys/colour", json={"value": "blue"})
        assert c.delete("/keys/colour").status_code == 204
        assert c.delete("/keys/colour").status_code == 404
    found = ordered(events(db))
    assert [kind for kind, _ in found] == ["create", "update", "update", "value_change",
                                           "delete"]
    assert found[0][1] == {"object": created}
    assert found[1][1]["object"]["value"] == "red"
    assert found[3][1]["old_object"]["value"] == "red"
    assert found[3][1]["new_object"]["value"] == "blue"
    assert found[4][1]["object"]["name"] == "colour"
    assert found[4][1]["object"]["value"] == "blue"


def test_secret_values_are_masked(keyed: Served) -> None:
    db = keyed.engine
    with keyed.client() as c:
        c.put("/keys/token", json={"value": SECRET, "secret": True, "scope": "st2kv.user"})
        c.put("/keys/token", json={"value": SECRET + "2", "secret": True,
                                   "scope": "st2kv.user"})
        c.delete("/keys/token", params={"scope": "st2kv.user"})
    found = ordered(events(db))
    assert [kind for kind, _ in found] == ["create", "update", "value_change", "delete"]
    assert SECRET not in repr(found)
    first = found[0][1]["object"]
    assert first["value"] == "********" and first["secret"] is True
    assert first["scope"] == "st2kv.user" and first["user"]
    assert found[2][1]["old_object"]["value"] == found[2][1]["new_object"]["value"] \
        == "********"
