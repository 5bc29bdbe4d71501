"""The receiver over HTTP: duplicates, reordering, late events, bad signatures, unknown
executions, and the payloads of a Mistral server's webhook publisher."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from levante.contract.signing import signed_headers, signing_secret
from levante.db.connect import make_engine
from levante.platform.api.app import create_app
from levante.platform.core import auth
from levante.platform.workflows.tables import tracked_executions
from tests.conftest import free_port
from tests.integration.handshake.support import (
    ServedApp,
    config_for,
    platform_execution,
    platform_row,
)


class Receiver:
    def __init__(self, url: str, secret: str, db: Any) -> None:
        self.url = url
        self.secret = secret
        self.db = db
        self.client = httpx.Client(base_url=url, timeout=5.0)

    def post(self, body: dict[str, Any], secret: str | None = None,
             path: str = "/v1/webhooks/levante", headers: dict[str, str] | None = None,
             sign: bool = True) -> httpx.Response:
        raw = json.dumps(body).encode()
        sent = {"content-type": "application/json", **(headers or {})}
        if sign:
            sent.update(signed_headers(secret or self.secret,
                                       f"msg_{body.get('event_id')}", raw))
        return self.client.post(path, content=raw, headers=sent)


@pytest.fixture
def receiver(migrated_url: str, tmp_path: Path, request: pytest.FixtureRequest
             ) -> Iterator[Receiver]:
    unsigned = getattr(request, "param", False)  # [receiver] accept_unsigned_mistral
    config = config_for(tmp_path, migrated_url,
                        receiver={"accept_unsigned_mistral": str(unsigned).lower()})
    db = make_engine(migrated_url)
    served = ServedApp(create_app(config, db), free_port()).start()
    try:
        yield Receiver(served.url, signing_secret(config), db)
    finally:
        served.stop()
        db.dispose()


def wf_event(wf_id: str, event: str, seq: int, state: str, **extra: Any) -> dict[str, Any]:
    return {"event": event, "event_id": seq, "id": wf_id, "state": state,
            "root_execution_id": wf_id, **extra}


def test_duplicate_reordered_and_late_events_change_nothing(receiver: Receiver) -> None:
    ex_id = platform_execution(receiver.db, "wf-1")
    launched = wf_event("wf-1", "WORKFLOW_LAUNCHED", 1, "RUNNING")
    assert receiver.post(launched).status_code == 200
    task = {"event": "TASK_SUCCEEDED", "event_id": 3, "id": "t-1", "name": "first",
            "workflow_execution_id": "wf-1", "state": "SUCCESS", "published": {"a": 1}}
    paused = wf_event("wf-1", "WORKFLOW_PAUSED", 2, "PAUSED", output={}, tasks=[])
    # Reordered: 3 comes before 2; then 2 is late and changes nothing.
    assert receiver.post(task).status_code == 200
    late = receiver.post(paused)
    assert late.status_code == 200 and late.json()["changed"] is False
    row = platform_row(receiver.db, ex_id)
    assert row["status"] == "running"
    assert [t["name"] for t in row["result"]["tasks"]] == ["first"]
    done = wf_event("wf-1", "WORKFLOW_SUCCEEDED", 4, "SUCCESS", output={"x": 1},
                    tasks=[{"id": "t-1", "name": "first", "workflow_execution_id": "wf-1",
                            "state": "SUCCESS"}])
    first = receiver.post(done)
    assert first.status_code == 200 and first.json()["changed"] is True
    before = platform_row(receiver.db, ex_id)
    assert before["status"] == "succeeded" and before["result"]["x"] == 1
    again = receiver.post(done)  # a duplicate
    assert again.status_code == 200 and again.json()["changed"] is False
    failed = receiver.post(wf_event("wf-1", "WORKFLOW_FAILED", 9, "ERROR", output={}))
    assert failed.status_code == 200 and failed.json()["changed"] is False
    after = platform_row(receiver.db, ex_id)
    assert after["status"] == "succeeded"
    assert after["result"] == before["result"] and after["log"] == before["log"]


def test_status_mapping_through_the_receiver(receiver: Receiver) -> None:
    cases = {"ERROR": ("WORKFLOW_FAILED", "failed"),
             "CANCELLED": ("WORKFLOW_CANCELLED", "canceled"),
             "PAUSED": ("WORKFLOW_PAUSED", "paused")}
    for seq, (state, (event, status)) in enumerate(cases.items(), start=1):
        wf_id = f"wf-{state}"
        ex_id = platform_execution(receiver.db, wf_id)
        answer = receiver.post(wf_event(wf_id, event, seq, state, output={},
                                        state_info="why"))
        assert answer.status_code == 200, answer.text
        row = platform_row(receiver.db, ex_id)
        assert row["status"] == status
        assert row["result"]["extra"] == {"state": state, "state_info": "why"}


def test_bad_signature_is_refused_and_logged(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    ex_id = platform_execution(receiver.db, "wf-2")
    body = wf_event("wf-2", "WORKFLOW_SUCCEEDED", 1, "SUCCESS", output={})
    wrong = receiver.post(body, secret="another secret")
    assert wrong.status_code == 401
    assert "signature" in wrong.json()["faultstring"]
    unsigned = receiver.post(body, sign=False)
    assert unsigned.status_code == 401
    assert "bad signature" in caplog.text
    assert platform_row(receiver.db, ex_id)["status"] == "running"


def test_unknown_execution_and_bad_bodies(receiver: Receiver) -> None:
    unknown = receiver.post(wf_event("nobody", "WORKFLOW_SUCCEEDED", 1, "SUCCESS", output={}))
    assert unknown.status_code == 404
    assert "nobody" in unknown.json()["faultstring"]
    bad = receiver.post({"event": "WORKFLOW_SUCCEEDED", "event_id": 1})
    assert bad.status_code == 400 and "'id'" in bad.json()["faultstring"]


def test_platform_execution_id_links_a_launch(receiver: Receiver) -> None:
    ex_id = platform_execution(receiver.db, None)
    body = wf_event("wf-new", "WORKFLOW_LAUNCHED", 1, "RUNNING", platform_execution_id=ex_id)
    assert receiver.post(body).status_code == 200
    row = platform_row(receiver.db, ex_id)
    assert row["context"]["mistral"]["execution_id"] == "wf-new"
    sub = wf_event("wf-sub", "WORKFLOW_SUCCEEDED", 2, "SUCCESS", output={},
                   platform_execution_id=ex_id, root_execution_id="wf-new")
    assert receiver.post(sub).status_code == 200  # a sub-workflow: nothing changes
    assert platform_row(receiver.db, ex_id)["status"] == "running"


def test_unsigned_events_are_refused_by_default(receiver: Receiver) -> None:
    """Only the engine may end a workflow: an unsigned event, even with a valid API key,
    is refused (401) on both routes unless a real Mistral is declared on the other side;
    an event signed by the engine is accepted on either route."""
    key, _ = auth.create_api_key(receiver.db, "admin", {})
    ex_id = platform_execution(receiver.db, "wf-u")
    end = wf_event("wf-u", "WORKFLOW_SUCCEEDED", 1, "SUCCESS", output={"forged": True})
    for path in ("/v1/webhooks/mistral", "/v1/webhooks/levante"):
        answer = receiver.post(end, path=path, headers={"St2-Api-Key": key}, sign=False)
        assert answer.status_code == 401, (path, answer.text)
        assert "signed" in answer.json()["faultstring"] or \
            "signature" in answer.json()["faultstring"]
    assert platform_row(receiver.db, ex_id)["status"] == "running"
    signed = receiver.post(end, path="/v1/webhooks/mistral", headers={"St2-Api-Key": key})
    assert signed.status_code == 200, signed.text
    assert platform_row(receiver.db, ex_id)["status"] == "succeeded"


@pytest.mark.parametrize("receiver", [True], indirect=True)
def test_mistral_webhook_payloads(receiver: Receiver) -> None:
    """With ``[receiver] accept_unsigned_mistral = true``: a real Mistral's payloads,
    authenticated by an API key."""
    key, _ = auth.create_api_key(receiver.db, "admin", {})
    ex_id = platform_execution(receiver.db, "wf-m")
    headers = {"St2-Api-Key": key}
    no_key = receiver.post({"id": "wf-m", "state": "RUNNING"}, path="/v1/webhooks/mistral",
                           sign=False)
    assert no_key.status_code == 401
    task = {"id": "t-9", "name": "task1", "workflow_execution_id": "wf-m", "state": "SUCCESS",
            "type": "ACTION", "workflow_name": "wf", "root_execution_id": "wf-m"}
    answer = receiver.post(task, path="/v1/webhooks/mistral", headers=headers, sign=False)
    assert answer.status_code == 200, answer.text
    assert [t["name"] for t in platform_row(receiver.db, ex_id)["result"]["tasks"]] == ["task1"]
    # Mistral's workflow data has no output: the tracker is asked to fetch the rest.
    end = {"id": "wf-m", "name": "wf", "workflow_name": "wf", "state": "SUCCESS",
           "root_execution_id": "wf-m"}
    answer = receiver.post(end, path="/v1/webhooks/mistral", headers=headers, sign=False)
    assert answer.status_code == 202
    with receiver.db.connect() as conn:
        tracked = conn.execute(select(tracked_executions.c.execution_id)).scalars().all()
    assert tracked == [ex_id]


def test_a_batch_of_events_applies_in_order(receiver: Receiver) -> None:
    ex_id = platform_execution(receiver.db, "wf-b")
    batch = {"events": [
        wf_event("wf-b", "WORKFLOW_LAUNCHED", 1, "RUNNING"),
        {"event": "TASK_LAUNCHED", "event_id": 2, "id": "t-1", "name": "one",
         "workflow_execution_id": "wf-b", "state": "RUNNING"},
        {"event": "TASK_SUCCEEDED", "event_id": 3, "id": "t-1", "name": "one",
         "workflow_execution_id": "wf-b", "state": "SUCCESS", "published": {"a": 1}},
        wf_event("wf-b", "WORKFLOW_SUCCEEDED", 4, "SUCCESS", output={"a": 1}),
    ]}
    answer = receiver.post(batch)
    assert answer.status_code == 200, answer.text
    row = platform_row(receiver.db, ex_id)
    assert row["status"] == "succeeded" and row["result"]["a"] == 1
    assert row["result"]["tasks"][0]["state"] == "SUCCESS"
    assert [e["status"] for e in row["log"]] == ["running", "succeeded"]
    assert receiver.post(batch).json()["changed"] is False  # the whole batch again
    unknown = receiver.post({"events": [wf_event("wf-zz", "WORKFLOW_LAUNCHED", 1, "RUNNING")]})
    assert unknown.status_code == 404
    bad = receiver.post({"events": [{"event": "WORKFLOW_LAUNCHED"}]})
    assert bad.status_code == 400 and "events[0]" in bad.json()["faultstring"]
