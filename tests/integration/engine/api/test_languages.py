"""A second workflow language, in the engine's settings beside Mistral v2, runs through the
real engine:
definitions sent with `?language=toy` over HTTP are parsed by it, stored with their
language, and executed by the engine's workers (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from levante.engine.definitions_models import workflow_definitions
from levante.engine.languages.registry import BUILTIN_LANGUAGES
from tests.integration.engine.api.conftest import Api, has_engine_role, running_api
from tests.unit.engine.languages.toy import ToyLanguage

pytestmark = pytest.mark.skipif(not has_engine_role(),
                                reason="levante.engine.service is not built yet")

TEXT = {"content-type": "text/plain"}
TOY = """\
workflow: toyflow
input: name, punct=!
output: {"greeting": "<% $.greeting %>", "path": "<% $.path %>"}
hello: std.echo {"output": "Hello <% $.name %><% $.punct %>"} publish {"greeting": "<% task().result %>"} -> good | bad
good: std.noop publish {"path": "good"}
bad: std.noop publish {"path": "bad"}

workflow: toyfail
boom: std.fail -> never | caught
never: std.noop
caught: std.noop publish {"handled": true}
"""  # noqa: E501
MISTRAL = "version: '2.0'\nplain:\n  tasks:\n    t:\n      action: std.noop\n"


@pytest.fixture
def toy_api(migrated_url: str) -> Iterator[Api]:
    """An engine whose settings know the toy language beside the built-in ones."""
    yield from running_api(migrated_url, BUILTIN_LANGUAGES.adding(ToyLanguage()))


def _wait(api: Api, ex_id: str, seconds: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = api.client.get(f"/executions/{ex_id}").json()
        if body.get("state") in ("SUCCESS", "ERROR", "CANCELLED"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"execution {ex_id} is {body.get('state')}")


def _languages(api: Api) -> dict[str, str]:
    with api.engine.connect() as conn:
        rows = conn.execute(
            select(workflow_definitions.c.name, workflow_definitions.c.language)
        ).all()
    return {name: language for name, language in rows}


def test_a_toy_workflow_runs_through_the_engine(toy_api: Api) -> None:
    api = toy_api
    created = api.client.post("/workflows", params={"language": "toy"}, content=TOY,
                              headers=TEXT)
    assert created.status_code == 201, created.text
    assert sorted(w["name"] for w in created.json()["workflows"]) == ["toyfail", "toyflow"]
    assert api.client.post("/workflows", content=MISTRAL, headers=TEXT).status_code == 201
    assert _languages(api) == {"toyflow": "toy", "toyfail": "toy", "plain": "mistral-v2"}

    started = api.client.post("/executions", json={
        "workflow_name": "toyflow", "input": '{"name": "Ann"}'})
    assert started.status_code == 201, started.text
    done = _wait(api, started.json()["id"])
    assert done["state"] == "SUCCESS", done["state_info"]
    assert done["output"] == '{"greeting": "Hello Ann!", "path": "good"}'
    tasks = api.client.get(f"/executions/{done['id']}/tasks").json()["tasks"]
    assert sorted((t["name"], t["state"]) for t in tasks) == [
        ("good", "SUCCESS"), ("hello", "SUCCESS")]

    failing = api.client.post("/executions", json={"workflow_name": "toyfail"})
    done = _wait(api, failing.json()["id"])
    assert done["state"] == "SUCCESS", done["state_info"]
    tasks = api.client.get(f"/executions/{done['id']}/tasks").json()["tasks"]
    assert sorted((t["name"], t["state"]) for t in tasks) == [
        ("boom", "ERROR"), ("caught", "SUCCESS")]

    # the toy's input rules are the engine's: an unknown input is refused at start
    refused = api.client.post("/executions", json={
        "workflow_name": "toyflow", "input": '{"name": "Ann", "age": 3}'})
    assert refused.status_code == 400, refused.text
    assert "age" in refused.json()["faultstring"]


def test_a_toy_definition_is_validated_by_its_language(toy_api: Api) -> None:
    api = toy_api
    bad = "workflow: w\nhello: std.noop -> nowhere\n"
    answer = api.client.post("/workflows/validate", params={"language": "toy"},
                             content=bad, headers=TEXT)
    assert answer.status_code == 200
    assert answer.json()["valid"] is False
    assert "task 'hello', field 'next', line 2" in answer.json()["error"]
    refused = api.client.post("/workflows", params={"language": "toy"}, content=bad,
                              headers=TEXT)
    assert refused.status_code == 400
    assert "line 2" in refused.json()["faultstring"]
    # the same text is not Mistral, which refuses it in its own words
    mistral = api.client.post("/workflows", content="workflow: w\n", headers=TEXT)
    assert mistral.status_code == 400
    # the toy has no workbooks and says so
    book = api.client.post("/workbooks", params={"language": "toy"}, content="x",
                           headers=TEXT)
    assert book.status_code == 400
    assert "no workbooks" in book.json()["faultstring"]


def test_an_unknown_language_is_refused(api: Api) -> None:
    answer = api.client.post("/workflows", params={"language": "cobol"}, content=MISTRAL,
                             headers=TEXT)
    assert answer.status_code == 400
    assert "unknown workflow language 'cobol'" in answer.json()["faultstring"]
    assert "mistral-v2" in answer.json()["faultstring"]
