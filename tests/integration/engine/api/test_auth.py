"""The engine API is authenticated (`[engine] auth`, on by default): every route but the
version roots, the OpenAPI document and the Keystone endpoints needs an API key or a token
of the shared identity tables, in X-Auth-Token or St2-Api-Key; 401 with a Mistral fault
otherwise. Keystone v3 discovery and token creation as keystoneauth uses them."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, update

from levante.config import load_config
from levante.engine.api.app import ROUTES, create_app
from levante.engine.core.runtime import EngineRuntime
from levante.engine.models import workflow_executions
from levante.engine.settings import EngineSettings
from levante.identity import keys
from levante.identity.tables import tokens
from tests.conftest import free_port
from tests.integration.engine.api.conftest import Api
from tests.integration.handshake.support import ServedApp

PUBLIC = {"/", "/v2", "/v2/", "/v2/openapi.json", "/identity", "/identity/", "/identity/v3",
          "/identity/v3/", "/identity/v3/auth/tokens"}
WORKFLOW = """---
version: '2.0'
auth_wf:
  tasks:
    one:
      action: std.noop
"""


def _protected() -> list[tuple[str, str]]:
    found = []
    for route in ROUTES:
        if route.path in PUBLIC:
            continue
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, path))
    return found


def _is_fault(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.request.url, response.text)
    body: dict[str, Any] = response.json()
    assert set(body) == {"faultstring", "debuginfo", "error_code"}
    assert body["error_code"] == status
    return body


def test_every_route_refuses_a_request_without_a_valid_key(api: Api) -> None:
    routes = _protected()
    assert len(routes) > 40
    with httpx.Client(base_url=api.url, timeout=30) as anonymous:
        for method, path in routes:
            body = _is_fault(anonymous.request(method, path, json={}), 401)
            assert "API key or token is required" in body["faultstring"]
            wrong = anonymous.request(method, path, json={}, headers={"X-Auth-Token": "nope"})
            assert "not valid" in _is_fault(wrong, 401)["faultstring"]
            wrong = anonymous.request(method, path, json={}, headers={"St2-Api-Key": "nope"})
            _is_fault(wrong, 401)


def test_public_routes_answer_without_a_key(api: Api) -> None:
    with httpx.Client(base_url=api.url, timeout=30) as anonymous:
        for path in ("/", "/v2", "/v2/", "/v2/openapi.json", "/identity", "/identity/v3"):
            assert anonymous.get(path).status_code == 200, path


def test_a_key_opens_the_api_in_either_header(api: Api) -> None:
    with httpx.Client(base_url=api.url + "/v2", timeout=30) as client:
        for header in ("X-Auth-Token", "St2-Api-Key"):
            response = client.get("/workflows", headers={header: api.key})
            assert response.status_code == 200, response.text
        created = client.post("/workflows", content=WORKFLOW,
                              headers={"St2-Api-Key": api.key, "content-type": "text/plain"})
        assert created.status_code == 201, created.text


def test_disabled_keys_and_expired_tokens_are_refused(api: Api) -> None:
    key, row = keys.create_api_key(api.engine, "carol")
    token = keys.create_token(api.engine, "carol", 3600)["token"]
    with httpx.Client(base_url=api.url + "/v2", timeout=30) as client:
        assert client.get("/workflows", headers={"X-Auth-Token": token}).status_code == 200
        assert client.get("/workflows", headers={"X-Auth-Token": key}).status_code == 200
        from levante.identity import store

        store.update_api_key(api.engine, row["id"], {"enabled": False})
        keys.forget_all(api.engine)
        time.sleep(keys.CACHE_SECONDS)  # another process's cache (the engine's) runs out
        _is_fault(client.get("/workflows", headers={"X-Auth-Token": key}), 401)
        with api.engine.begin() as conn:
            conn.execute(update(tokens).where(tokens.c.token_hash == keys.hash_secret(token))
                         .values(expiry=keys.now() - timedelta(seconds=1)))
        _is_fault(client.get("/workflows", headers={"X-Auth-Token": token}), 401)


def _started_by(db: Engine, execution_id: str) -> Any:
    with db.connect() as conn:
        rc = conn.execute(select(workflow_executions.c.runtime_context)
                          .where(workflow_executions.c.id == execution_id)).scalar_one()
    return (rc or {}).get("user")


def test_the_starting_user_is_recorded_and_only_a_service_key_may_assert_one(
    api: Api, tmp_path: Path
) -> None:
    dave, _row = keys.create_api_key(api.engine, "dave")
    service = keys.service_key(api.engine, tmp_path, "platform", "platform_api_key")
    assert (tmp_path / "platform_api_key").stat().st_mode & 0o777 == 0o600
    with httpx.Client(base_url=api.url + "/v2", timeout=30) as client:
        client.post("/workflows", content=WORKFLOW,
                    headers={"X-Auth-Token": dave, "content-type": "text/plain"})

        def start(headers: dict[str, str]) -> str:
            response = client.post("/executions", json={"workflow_name": "auth_wf"},
                                   headers=headers)
            assert response.status_code == 201, response.text
            return str(response.json()["id"])

        assert _started_by(api.engine, start({"X-Auth-Token": dave})) == "dave"
        # an ordinary key cannot act for someone else
        assert _started_by(api.engine, start({"X-Auth-Token": dave,
                                              "X-Levante-User": "admin"})) == "dave"
        # Levante's own service key says whom it acts for
        assert _started_by(api.engine, start({"St2-Api-Key": service,
                                              "X-Levante-User": "erin"})) == "erin"
        assert _started_by(api.engine, start({"St2-Api-Key": service})) == "platform"


def test_auth_off_by_option(migrated_url: str, api: Api, tmp_path: Path) -> None:
    config = load_config(environ={}).with_overrides({
        ("database", "connection"): migrated_url, ("engine", "auth"): False,
        ("core", "data_dir"): str(tmp_path),
    })
    runtime = EngineRuntime(api.engine, EngineSettings.from_config(config))
    served = ServedApp(create_app(runtime), free_port()).start()
    try:
        response = httpx.get(f"{served.url}/v2/workflows", timeout=30)
        assert response.status_code == 200, response.text
    finally:
        served.stop()
    on = load_config(environ={})
    assert on.get_bool("engine", "auth") is True


# --- Keystone v3, as keystoneauth uses it -------------------------------------------------


def test_keystone_version_discovery(api: Api) -> None:
    root = httpx.get(f"{api.url}/identity", timeout=30).json()
    (version,) = root["versions"]["values"]
    assert version["id"].startswith("v3.")
    assert version["links"][0]["href"] == f"{api.url}/identity/v3/"
    v3 = httpx.get(f"{api.url}/identity/v3", timeout=30).json()["version"]
    assert v3["status"] == "stable"
    assert v3["links"] == [{"rel": "self", "href": f"{api.url}/identity/v3/"}]


def _token_request(secret: str, method: str = "token") -> dict[str, Any]:
    identity: dict[str, Any] = {"methods": [method]}
    if method == "token":
        identity["token"] = {"id": secret}
    else:
        identity["password"] = {"user": {"name": "u", "password": secret,
                                         "domain": {"id": "default"}}}
    return {"auth": {"identity": identity}}


def test_keystone_token_method_with_a_key_or_a_token(api: Api) -> None:
    url = f"{api.url}/identity/v3/auth/tokens"
    answer = httpx.post(url, json=_token_request(api.key), timeout=30)
    assert answer.status_code == 201, answer.text
    subject = answer.headers["X-Subject-Token"]
    token = answer.json()["token"]
    assert token["user"]["name"] == "api-tester"
    assert token["methods"] == ["token"]
    assert token["expires_at"].endswith("Z")
    (service,) = [s for s in token["catalog"] if s["type"] == "workflowv2"]
    assert {e["interface"] for e in service["endpoints"]} == {"public", "internal", "admin"}
    assert {e["url"] for e in service["endpoints"]} == {f"{api.url}/v2"}
    # the subject token opens the API
    listed = httpx.get(f"{api.url}/v2/workflows", headers={"X-Auth-Token": subject}, timeout=30)
    assert listed.status_code == 200
    made = keys.create_token(api.engine, "frank", 600)
    answer = httpx.post(url, json=_token_request(made["token"]), timeout=30)
    assert answer.status_code == 201
    assert answer.json()["token"]["user"]["name"] == "frank"


def test_keystone_refusals(api: Api) -> None:
    url = f"{api.url}/identity/v3/auth/tokens"
    body = _is_fault(httpx.post(url, json=_token_request("nope"), timeout=30), 401)
    assert "not a valid API key or token" in body["faultstring"]
    body = _is_fault(httpx.post(url, json=_token_request("pw", "password"), timeout=30), 401)
    assert "no user store" in body["faultstring"]
    body = _is_fault(httpx.post(url, json={"auth": {}}, timeout=30), 400)
    assert "auth.identity" in body["faultstring"]
    body = _is_fault(httpx.post(url, json={"auth": {"identity": {"methods": ["token"]}}},
                                timeout=30), 400)
    assert "auth.identity.token.id" in body["faultstring"]
    _is_fault(httpx.post(url, json={}, timeout=30), 400)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_secrets_are_not_logged_or_echoed(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    response = httpx.get(f"{api.url}/v2/workflows", headers={"X-Auth-Token": "s3cr3t-value"},
                         timeout=30)
    assert "s3cr3t-value" not in response.text
    assert "s3cr3t-value" not in caplog.text
