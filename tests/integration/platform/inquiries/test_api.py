"""/v1/inquiries over loopback HTTP: core.ask alone and in an action chain, answers
checked (schema, users, roles), the TTL, and StackStorm's shapes and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from levante.identity import keys
from tests.integration.platform.service.conftest import Served, wait_status

FIELDS = {"id", "route", "ttl", "users", "roles", "schema"}


def _ask(client: httpx.Client, **parameters: Any) -> str:
    created = client.post("/executions", json={"action": "core.ask",
                                               "parameters": parameters})
    assert created.status_code == 201, created.text
    execution_id: str = created.json()["id"]
    wait_status(client, execution_id, {"pending"})
    return execution_id


def _key(client: httpx.Client, user: str) -> str:
    created = client.post("/apikeys", json={"user": user})
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    return key


def test_ask_waits_pending_and_an_answer_ends_it(asking: Served) -> None:
    with asking.client() as client:
        ask_id = _ask(client, route="ops")
        listed = client.get("/inquiries")
        assert listed.status_code == 200
        assert listed.headers["X-Total-Count"] == "1"
        (shown,) = listed.json()
        assert set(shown) == FIELDS
        assert shown["id"] == ask_id and shown["route"] == "ops" and shown["ttl"] == 1440
        assert shown["users"] == [] and shown["roles"] == []
        assert shown["schema"]["properties"]["continue"]["type"] == "boolean"
        assert client.get(f"/inquiries/{ask_id}").json() == shown
        execution = client.get(f"/executions/{ask_id}").json()
        assert execution["status"] == "pending"
        assert execution["result"]["schema"] == shown["schema"]

        bad = client.put(f"/inquiries/{ask_id}", json={"id": ask_id,
                                                       "response": {"continue": "yes"}})
        assert bad.status_code == 400
        assert "response.continue: 'yes' is not of type 'boolean'" in bad.json()["faultstring"]
        empty = client.put(f"/inquiries/{ask_id}", json={"id": ask_id, "response": {}})
        assert empty.status_code == 400 and "empty" in empty.json()["faultstring"]

        answered = client.put(f"/inquiries/{ask_id}", json={"id": ask_id,
                                                            "response": {"continue": True}})
        assert answered.status_code == 200, answered.text
        assert answered.json() == {"id": ask_id, "response": {"continue": True}}
        done = wait_status(client, ask_id, {"succeeded"})
        assert done["result"]["response"] == {"continue": True}
        assert done["result"]["route"] == "ops"
        assert client.get("/inquiries").json() == []
        again = client.put(f"/inquiries/{ask_id}", json={"response": {"continue": False}})
        assert again.status_code == 400
        assert "already been responded to" in again.json()["faultstring"]
        assert client.get(f"/inquiries/{ask_id}").status_code == 400


def test_only_the_listed_users_and_roles_may_answer(asking: Served, tmp_path: Path
                                                     ) -> None:
    with asking.client() as client:
        alice, bob = _key(client, "alice"), _key(client, "bob")
        for_alice = _ask(client, users=["alice"])
        answer = {"response": {"continue": True}}
        refused = client.put(f"/inquiries/{for_alice}", json=answer,
                             headers={"St2-Api-Key": bob})
        assert refused.status_code == 403
        assert 'User "bob" does not have permission' in refused.json()["faultstring"]
        assert client.put(f"/inquiries/{for_alice}", json=answer,
                          headers={"St2-Api-Key": alice}).status_code == 200
        for_role = _ask(client, roles=["approvers"])
        assert client.put(f"/inquiries/{for_role}", json=answer,
                          headers={"St2-Api-Key": alice}).status_code == 403
        assert client.put(f"/inquiries/{for_role}", json=answer).status_code == 200  # admin
        # Levante's own service keys hold every role (there is no RBAC).
        service = keys.service_key(asking.engine, tmp_path, "robot", "robot_api_key")
        for_service = _ask(client, roles=["approvers"])
        assert client.put(f"/inquiries/{for_service}", json=answer,
                          headers={"St2-Api-Key": service}).status_code == 200


def test_an_unanswered_inquiry_times_out(asking: Served) -> None:
    with asking.client() as client:
        ask_id = _ask(client, ttl=1)  # one unit: 0.2 s here
        ended = wait_status(client, ask_id, {"timeout"}, timeout=10)
        assert ended["result"]["ttl"] == 1 and "response" not in ended["result"]
        late = client.put(f"/inquiries/{ask_id}", json={"response": {"continue": True}})
        assert late.status_code == 400 and "timed out" in late.json()["faultstring"]
        never = _ask(client, ttl=0)
        assert client.get(f"/inquiries/{never}").status_code == 200


def test_a_chain_that_asks_pauses_and_goes_on_with_the_answer(asking: Served) -> None:
    with asking.client() as client:
        chain = client.post("/executions", json={"action": "asking.approve"}).json()
        paused = wait_status(client, chain["id"], {"paused"})
        (ask,) = client.get(f"/executions/{chain['id']}/children").json()
        assert ask["status"] == "pending" and paused["status"] == "paused"
        bad = client.put(f"/inquiries/{ask['id']}", json={"response": {"reason": "x"}})
        assert bad.status_code == 400
        assert "'approved' is a required property" in bad.json()["faultstring"]
        assert client.put(f"/inquiries/{ask['id']}", json={
            "response": {"approved": True, "reason": "fine"}}).status_code == 200
        done = wait_status(client, chain["id"], {"succeeded", "failed"}, timeout=20)
        assert done["status"] == "succeeded", done["result"]
        tasks = done["result"]["tasks"]
        assert [t["name"] for t in tasks] == ["ask", "after"]
        assert tasks[0]["result"]["response"] == {"approved": True, "reason": "fine"}
        assert tasks[1]["result"]["stdout"].strip() == "approved=True reason=fine"


def test_a_chain_whose_inquiry_times_out_takes_on_failure(asking: Served) -> None:
    with asking.client() as client:
        chain = client.post("/executions", json={"action": "asking.approve",
                                                 "parameters": {"ttl": 1}}).json()
        done = wait_status(client, chain["id"], {"succeeded", "failed", "timeout"},
                           timeout=20)
        names = [(t["name"], t["state"]) for t in done["result"]["tasks"]]
        assert names == [("ask", "timeout"), ("denied", "succeeded")], done["result"]


def test_errors_name_what_is_wrong(asking: Served) -> None:
    with asking.client() as client:
        missing = client.get("/inquiries/0123456789abcdef01234567")
        assert missing.status_code == 404 and "cannot be found" in missing.json()["faultstring"]
        assert client.get("/inquiries/nope").status_code == 400
        ask_id = _ask(client)
        other = client.put(f"/inquiries/{ask_id}", json={
            "id": "0123456789abcdef01234567", "response": {"continue": True}})
        assert other.status_code == 400 and "'id'" in other.json()["faultstring"]
        broken = client.post("/executions", json={"action": "core.ask", "parameters": {
            "schema": {"type": "object", "properties": {"x": {"type": "nope"}}}}}).json()
        failed = wait_status(client, broken["id"], {"failed"})
        assert "not a valid JSON schema at properties/x/type" in failed["result"]["error"]
    assert httpx.get(f"{asking.url}/inquiries").status_code == 401


def test_canceling_a_chain_that_waits_cancels_its_inquiry(asking: Served) -> None:
    with asking.client() as client:
        chain = client.post("/executions", json={"action": "asking.approve"}).json()
        wait_status(client, chain["id"], {"paused"})
        (ask,) = client.get(f"/executions/{chain['id']}/children").json()
        assert client.delete(f"/executions/{chain['id']}").status_code == 200
        assert wait_status(client, chain["id"], {"canceled"})["status"] == "canceled"
        assert wait_status(client, ask["id"], {"canceled"})["status"] == "canceled"
        assert client.get("/inquiries").json() == []
        gone = client.put(f"/inquiries/{ask['id']}", json={"response": {"approved": True}})
        assert gone.status_code == 400 and "is canceled" in gone.json()["faultstring"]
