"""The REST API v1 over real HTTP: shapes, filters, auth, bad input, masking."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from levante.identity import keys
from levante.platform.api.app import create_app
from levante.platform.core import auth
from levante.platform.core import executions as ex
from tests.integration.platform.service.conftest import Db, Served, wait_status


def test_requests_without_a_valid_key_get_401_and_nothing_else(served: Served) -> None:
    base = served.url
    for method, path in [("GET", "/actions"), ("POST", "/executions"), ("GET", "/nowhere"),
                         ("GET", "/executions/123")]:
        answer = httpx.request(method, base + path)
        assert answer.status_code == 401
        assert answer.json() == {"faultstring": "Unauthorized - One of Token or API key "
                                                "required."}
    bad = httpx.get(base + "/actions", headers={"St2-Api-Key": "wrong"})
    assert bad.status_code == 401
    assert "wrong" not in bad.text
    assert httpx.get(base + f"/actions?st2-api-key={served.key}").status_code == 200


def test_tokens_and_api_keys(served: Served) -> None:
    with served.client() as client:
        created = client.post("/apikeys", json={"user": "bob"})
        assert created.status_code == 201
        key = created.json()["key"]
        listed = client.get("/apikeys").json()
        assert any(k["user"] == "bob" for k in listed)
        assert all("key" not in k for k in listed)
        token = httpx.post(served.url.replace("/v1", "/auth/v1/tokens"),
                           headers={"St2-Api-Key": key})
        assert token.status_code == 201
        by_token = httpx.get(served.url + "/actions",
                             headers={"X-Auth-Token": token.json()["token"]})
        assert by_token.status_code == 200
        own = next(k for k in listed if k["key_hash"] == auth.hash_secret(served.key))
        assert client.delete(f"/apikeys/{own['id']}").status_code == 400
        assert client.put(f"/apikeys/{own['id']}", json={"enabled": False}).status_code == 400
        assert client.delete(f"/apikeys/{created.json()['id']}").status_code == 204
        assert httpx.get(served.url + "/actions",
                         headers={"St2-Api-Key": key}).status_code == 401


def test_actions_list_get_and_views(served: Served) -> None:
    with served.client() as client:
        answer = client.get("/actions", params={"pack": "core",
                                                "include_attributes": "ref,pack"})
        assert answer.status_code == 200
        refs = [a["ref"] for a in answer.json()]
        assert {"core.local", "core.noop", "core.http", "core.echo", "core.remote",
                "core.local_sudo"} <= set(refs)
        assert set(answer.json()[0]) == {"id", "ref", "pack"}
        assert answer.headers["X-Total-Count"] == str(len(refs))
        assert len(client.get("/actions", params={"limit": 2}).json()) == 2
        local = client.get("/actions/core.local").json()
        assert local["runner_type"] == "local-shell-cmd"
        assert local["uid"] == "action:core:local"
        assert client.get(f"/actions/{local['id']}").json()["ref"] == "core.local"
        params = client.get("/actions/views/parameters/core.local").json()["parameters"]
        assert "cmd" in params and "timeout" in params
        missing = client.get("/actions/core.nope")
        assert missing.status_code == 404
        assert missing.json() == {"faultstring": 'Action "core.nope" cannot be found.'}
        runners = client.get("/runnertypes/", params={"name": "local-shell-cmd"}).json()
        assert runners[0]["runner_parameters"]["cmd"]["type"] == "string"
        assert client.get("/runnertypes/nope").status_code == 404


def test_action_create_update_delete(served: Served) -> None:
    with served.client() as client:
        body = {"name": "hello", "pack": "mine", "runner_type": "local-shell-cmd",
                "parameters": {"cmd": {"type": "string", "default": "echo hello"}}}
        created = client.post("/actions", json=body)
        assert created.status_code == 201, created.text
        assert client.post("/actions", json=body).status_code == 409
        bad = client.post("/actions", json={**body, "name": "x", "runner_type": "nope"})
        assert bad.status_code == 400 and "nope" in bad.json()["faultstring"]
        changed = client.put("/actions/mine.hello", json={**body, "description": "Hi"})
        assert changed.status_code == 200 and changed.json()["description"] == "Hi"
        run = client.post("/executions", json={"action": "mine.hello"}).json()
        assert wait_status(client, run["id"], ex.DONE)["result"]["stdout"] == "hello"
        assert client.delete("/actions/mine.hello").status_code == 204
        assert client.get("/actions/mine.hello").status_code == 404


def test_bad_input_is_refused_naming_the_problem(served: Served) -> None:
    with served.client() as client:
        cases = [
            ({"action": "core.nope"}, 404, "cannot be found"),
            ({"action": "testpack.secret"}, 400, "password"),
            ({"action": "testpack.secret", "parameters": {"password": "x", "count": "z"}},
             400, "count"),
            ({"action": "testpack.secret", "parameters": {"password": "x", "colour": "b"}},
             400, "colour"),
            ({"action": "testpack.secret", "parameters": {"password": "x", "other": 1}},
             400, "other"),
            ({"parameters": {}}, 400, "action"),
            ({"action": "core.noop", "parameters": []}, 400, "parameters"),
            ({"action": "core.local_sudo", "parameters": {"cmd": "id"}}, 400, "sudo"),
        ]
        for body, status, word in cases:
            answer = client.post("/executions", json=body)
            assert answer.status_code == status, (body, answer.text)
            assert word in answer.json()["faultstring"], (body, answer.text)
        malformed = client.post("/executions", content=b"{not json",
                                headers={"content-type": "application/json"})
        assert malformed.status_code == 400
        assert "not valid JSON" in malformed.json()["faultstring"]
        assert client.post("/executions", content=b"[1]").status_code == 400
        assert client.get("/executions", params={"limit": "x"}).status_code == 400
        assert client.get("/executions", params={"status": "weird"}).status_code == 400
        assert client.get("/executions/nope").status_code == 400
        assert client.get("/executions/" + "0" * 24).status_code == 404
        assert client.put("/executions/" + "0" * 24, json={"status": "failed"}).status_code == 404
        assert client.get("/nowhere").status_code == 404
        assert client.patch("/executions").status_code == 405
        for path in ("/executions/%00", "/actions/%ff%fe", "/executions?offset=-1",
                     "/executions/x/children?depth=abc", "/packs/nope", "/apikeys/nope"):
            assert client.get(path).status_code in (400, 404), path
        assert client.get("/executions", params={"offset": 10**30}).status_code == 400
        deep: object = "x"
        for _ in range(200):
            deep = {"a": deep}
        nested = client.post("/executions", json={"action": "testpack.secret", "parameters": {
            "password": "x", "deep": deep}})
        assert nested.status_code == 400 and "nested" in nested.json()["faultstring"]
        huge = client.post("/executions", json={"action": "testpack.secret", "parameters": {
            "password": "x", "count": 10**40}})
        assert huge.status_code in (201, 400)
        nul = client.post("/executions", json={"action": "core.no\x00op"})
        assert nul.status_code == 400
        for name in ("/apikeys", "/packs/register", "/executions/x/re_run", "/actions"):
            assert client.post(name, content=b'"str"').status_code in (400, 404), name


def test_secret_parameters_are_masked_everywhere(served: Served) -> None:
    with served.client() as client:
        run = client.post("/executions", json={"action": "testpack.secret",
                                               "parameters": {"password": "hunter2"}})
        assert run.status_code == 201
        assert "hunter2" not in run.text
        execution_id = run.json()["id"]
        wait_status(client, execution_id, ex.DONE)
        for path in (f"/executions/{execution_id}", "/executions",
                     f"/executions/{execution_id}/output"):
            text = client.get(path).text
            assert "hunter2" not in text, path
        assert client.get(f"/executions/{execution_id}").json()["parameters"][
            "password"] == "********"
        again = client.post(f"/executions/{execution_id}/re_run", json={})
        assert again.status_code == 201 and "hunter2" not in again.text
        assert wait_status(client, again.json()["id"], ex.DONE)["status"] == "succeeded"


def test_executions_list_children_put_and_re_run(served: Served) -> None:
    with served.client() as client:
        parent = client.post("/executions", json={"action": "core.noop"}).json()
        child = client.post("/executions", json={
            "action": "core.noop", "context": {"parent": {"execution_id": parent["id"]}},
        }).json()
        assert child["parent"] == parent["id"]
        wait_status(client, child["id"], ex.DONE)
        page = client.get("/executions", params={"parent": "null", "limit": 1,
                                                 "include_attributes": "id,status,action.ref"})
        assert page.headers["X-Total-Count"] == "1"
        assert page.json()[0]["id"] == parent["id"]
        assert set(page.json()[0]) == {"id", "status", "action"}
        assert page.json()[0]["action"] == {"ref": "core.noop"}
        kids = client.get(f"/executions/{parent['id']}/children").json()
        assert [k["id"] for k in kids] == [child["id"]]
        assert client.get(f"/executions/{parent['id']}").json()["children"] == [child["id"]]
        by_action = client.get("/executions", params={"action": "core.noop"})
        assert by_action.headers["X-Total-Count"] == "2"
        asc = client.get("/executions", params={"sort_asc": "true"}).json()
        assert asc[0]["id"] == parent["id"]
        changed = client.put(f"/executions/{parent['id']}", json={"status": "failed"})
        assert changed.status_code == 400  # already ended
        rerun = client.post(f"/executions/{parent['id']}/re_run", json={"parameters": {}})
        assert rerun.status_code == 201 and rerun.json()["context"]["re-run"] == {
            "ref": parent["id"]}


def test_packs_register_reports_bad_files_and_keeps_good_ones(served: Served) -> None:
    with served.client() as client:
        report = client.post("/packs/register", json={"packs": ["testpack"]}).json()
        assert report["packs"] == ["testpack"]
        assert report["actions"] == 2
        assert len(report["errors"]) == 1
        assert report["errors"][0]["file"].endswith("broken.yaml")
        assert "no-such-runner" in report["errors"][0]["reason"]
        assert client.post("/packs/register", json={"packs": ["nope"]}).status_code == 404
        packs = {p["ref"] for p in client.get("/packs").json()}
        assert {"core", "examples", "testpack"} <= packs
        assert client.get("/packs/core").json()["ref"] == "core"


def test_openapi_is_served(served: Served) -> None:
    doc = httpx.get(served.url + "/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert "/v1/executions" in doc["paths"]


def test_only_a_service_key_may_say_which_user_an_execution_runs_as(
    served: Served, tmp_path: Path
) -> None:
    """The engine creates a workflow's children with its service key, asserting the user
    who started the workflow; an ordinary key asserting a user is not believed."""
    service = keys.service_key(served.engine, tmp_path, "engine", "engine_api_key")
    with served.client() as client:
        plain = client.post("/apikeys", json={"user": "mallory"}).json()["key"]
        refused = client.post("/apikeys", json={"user": "x",
                                                "metadata": {"levante_service": True}})
        assert refused.status_code == 400
        assert "levante_service" in refused.json()["faultstring"]
    cases = [(service, "alice", "alice"), (service, None, "engine"),
             (plain, "admin", "mallory")]
    for key, asserted, expected in cases:
        headers = {"St2-Api-Key": key}
        if asserted:
            headers["X-Levante-User"] = asserted
        answer = httpx.post(served.url + "/executions", headers=headers,
                            json={"action": "core.noop"})
        assert answer.status_code == 201, answer.text
        assert answer.json()["context"]["user"] == expected


def test_the_app_shuts_its_committer_threads_down_with_it(platform_db: Db) -> None:
    """The threads that run committing work belong to the app (its Platform value): two
    apps have their own, and each ends with its app's lifespan."""
    first = create_app(platform_db.config, platform_db.engine)
    second = create_app(platform_db.config, platform_db.engine)
    mine, theirs = first.app.platform, second.app.platform  # type: ignore[attr-defined]
    pool = mine.committers()
    assert pool is mine.committers() and pool is not theirs.committers()
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    served: list[bool] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            served.append(pool._shutdown)

    asyncio.run(first({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                      receive, send))  # type: ignore[arg-type]
    assert served == [False]
    assert pool._shutdown and not theirs.committers()._shutdown
    assert mine.committers() is not pool  # served again: threads of its own again
    mine.close()
    theirs.close()
