"""Bad text and structure limits on the platform API (issue 9, points 4 and 5), over real
HTTP on SQLite and PostgreSQL: refused with a 400 naming the field, or kept safely; the
listings answer 200 whatever was stored."""

from __future__ import annotations

from pathlib import Path

import httpx

from levante.contract.signing import signed_headers, signing_secret
from levante.jsontext import MAX_BODY
from levante.platform.api.app import create_app
from levante.platform.core import executions as ex
from levante.platform.core.pack_registry import register_packs
from levante.platform.service import ensure_api_key
from levante.service import HttpService
from tests.conftest import free_port
from tests.integration.platform.service.conftest import (
    Background,
    Db,
    Served,
    wait_http,
    wait_status,
)

JSON = {"content-type": "application/json"}


def _fault(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["faultstring"])


def _listings_answer(client: httpx.Client) -> None:
    for path in ("/executions", "/actions", "/packs"):
        listed = client.get(path)
        assert listed.status_code == 200, (path, listed.text)


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_bad_text_is_refused_naming_the_field(served: Served) -> None:
    with served.client() as client:
        cases = [
            ('{"action": "core.local", "parameters": {"cmd": "echo \\ud800"}}', "parameters.cmd"),
            ('{"action": "core.local", "parameters": {"cmd": "echo \\u0000"}}', "parameters.cmd"),
            ('{"action": "core.local\\udc00"}', "action"),
            ('{"action": "core.local", "parameters": {"cmd": "x", "env": {"A\\u0000": "1"}}}',
             'parameters.env."A\\u0000"'),
            ('{"action": "core.local", "parameters": {"cmd": "x"}, "context": '
             '{"trace": ["\\udfff"]}}', "context.trace[0]"),
        ]
        for body, field in cases:
            message = _fault(client.post("/executions", content=body, headers=JSON))
            assert f"field '{field}'" in message, (body, message)
        message = _fault(client.post("/actions", headers=JSON, content=(
            '{"pack": "mine", "name": "a\\ud800", "runner_type": "noop"}')))
        assert "field 'name'" in message
        _listings_answer(client)


def test_bad_text_stored_before_does_not_break_listings(served: Served) -> None:
    """Values stored by an earlier version, without these checks, are still answered."""
    row = ex.create_execution(served.engine, "core.noop", {}, "levante",
                              context={"note": "lone \ud800 surrogate", "nul": "a\x00b"})
    with served.client() as client:
        listed = client.get("/executions")
        assert listed.status_code == 200, listed.text
        one = client.get(f"/executions/{row['id']}")
        assert one.status_code == 200
        assert one.json()["context"]["nul"] == "a\x00b"
        assert one.json()["context"]["note"] == "lone \ud800 surrogate"


def test_nul_output_is_kept_as_written(served: Served) -> None:
    """NUL characters in output lines and results, on PostgreSQL as on SQLite."""
    script = "printf 'a\\000b\\\\0c\\n'; printf 'x\\000' >&2; printf 'plain\\\\n'"
    with served.client() as client:
        made = client.post("/executions", json={"action": "core.local",
                                                "parameters": {"cmd": script}})
        assert made.status_code == 201, made.text
        done = wait_status(client, made.json()["id"], {"succeeded", "failed"})
        assert done["status"] == "succeeded", done
        assert done["result"]["stdout"] == "a\x00b\\0c\nplain\\n"
        assert done["result"]["stderr"] == "x\x00"
        lines = client.get(f"/executions/{done['id']}/output",
                           params={"format": "json"}).json()["lines"]
        assert "".join(line["data"] for line in lines if line["stream"] == "stdout") \
            == "a\x00b\\0c\nplain\\n"
        assert [line["data"] for line in lines if line["stream"] == "stderr"] == ["x\x00"]
        stderr = client.get(f"/executions/{done['id']}/output",
                            params={"format": "json", "output_type": "stderr"}).json()
        assert [line["data"] for line in stderr["lines"]] == ["x\x00"]
        text = client.get(f"/executions/{done['id']}/output").content
        assert b"a\x00b" in text and b"x\x00" in text
        _listings_answer(client)


def test_deep_json_gets_a_400(served: Served) -> None:
    with served.client() as client:
        made = client.post("/executions", json={"action": "core.noop"})
        assert made.status_code == 201
        ex_id = made.json()["id"]
        for levels in (101, 5000, 200_000):
            deep = _deep(levels)
            bodies = [
                ("POST", "/executions", '{"action": "core.noop", "parameters": {"x": '
                 + deep + "}}"),
                ("PUT", f"/executions/{ex_id}", '{"status": "failed", "result": ' + deep + "}"),
                ("POST", "/actions", '{"pack": "mine", "name": "x", "parameters": ' + deep + "}"),
                ("POST", "/webhooks/mistral", '{"id": "x", "state": "SUCCESS", "output": '
                 + deep + "}"),
            ]
            for method, path, body in bodies:
                # (the receiver takes only events the engine signed: sign this one)
                headers = JSON if path != "/webhooks/mistral" else {**JSON, **signed_headers(
                    signing_secret(served.config), f"deep-{levels}", body.encode())}
                message = _fault(client.request(method, path, content=body, headers=headers))
                assert "nested more than 100 levels deep" in message, (path, message)
        # The receiver keeps what a workflow produced, NUL characters included: no refusal
        # for text there (an unknown execution is a 404, not a 400).
        event = ('{"id": "' + "1" * 36 + '", "state": "SUCCESS", "output": {"v": "a\\u0000"}}')
        answer = client.post("/webhooks/mistral", content=event, headers={
            **JSON, **signed_headers(signing_secret(served.config), "nul", event.encode())})
        assert answer.status_code == 404, answer.text
        _listings_answer(client)


def test_execution_ids(served: Served) -> None:
    with served.client() as client:
        for path in ("/executions/nope", "/executions/x/children", "/executions/x/output",
                     "/executions/x..y", "/executions/" + "g" * 24):
            message = _fault(client.get(path))
            assert "not a valid execution id" in message, (path, message)
        assert _fault(client.delete("/executions/nope"))
        assert _fault(client.put("/executions/nope", json={"status": "failed"}))
        message = _fault(client.post("/executions", json={"action": "core.noop",
                                                          "parent": "../x"}))
        assert "'parent'" in message
        message = _fault(client.post("/executions", json={
            "action": "core.noop", "context": {"parent": {"execution_id": "x"}}}))
        assert "'parent'" in message
        assert client.get("/executions/" + "0" * 24).status_code == 404


def test_pack_names_are_plain_identifiers(served: Served, tmp_path: Path) -> None:
    with served.client() as client:
        for names in (["../core"], ["a/b"], ["x.y"], [".."]):
            message = _fault(client.post("/packs/register", json={"packs": names}))
            assert "'packs[0]'" in message and "not a valid pack name" in message
        assert "not a valid pack name" in _fault(client.get("/packs/a..b"))
        message = _fault(client.post("/actions", json={
            "pack": "../../tmp", "name": "x", "runner_type": "noop"}))
        assert "'pack'" in message
        assert client.get("/packs/core").status_code == 200
    # pack.yaml: a `ref` or `name` that is not a plain identifier is refused at registration.
    for meta in ("ref: ../evil\nname: evil\n", "name: a/b\n", "ref: good\nname: ../x\n"):
        folder = tmp_path / "bad" / f"p{abs(hash(meta))}"
        (folder / "actions").mkdir(parents=True)
        (folder / "pack.yaml").write_text(meta + "version: 0.1.0\n", encoding="utf-8")
        report = register_packs(served.engine, [str(folder)], [])
        assert any("invalid pack name" in e["reason"] for e in report.errors), (meta, report)


def test_timeouts_must_be_positive(served: Served) -> None:
    with served.client() as client:
        for value in (0, -5):
            message = _fault(client.post("/executions", json={
                "action": "core.local", "parameters": {"cmd": "true", "timeout": value}}))
            assert "'timeout'" in message and "positive" in message
        fine = client.post("/executions", json={"action": "core.local",
                                                "parameters": {"cmd": "true", "timeout": 5}})
        assert fine.status_code == 201
        wait_status(client, fine.json()["id"], {"succeeded"})


def test_cancel_of_a_deep_tree_of_workflow_executions(platform_db: Db, tmp_path: Path) -> None:
    """A chain of 1,500 workflow executions, each the child of the one before (as a
    workflow action that starts itself would make with a high limit): cancelling the top
    one cancels every level, through the API (no runner runs: they all wait)."""
    pack = tmp_path / "wfpack" / "deep"
    (pack / "actions").mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: deep\nversion: 0.1.0\n", encoding="utf-8")
    (pack / "actions" / "wf.yaml").write_text(
        "name: wf\nrunner_type: mistral-v2\nentry_point: wf.yaml\n", encoding="utf-8")
    (pack / "actions" / "workflows").mkdir()
    register_packs(platform_db.engine, [str(tmp_path / "wfpack")], ["deep"])
    levels = 1500
    parent: str | None = None
    first = ""
    for _ in range(levels):
        row = ex.create_execution(platform_db.engine, "deep.wf", {}, "levante", parent=parent,
                                  max_nesting=levels)
        parent = row["id"]
        first = first or row["id"]
    port = free_port()
    config = platform_db.config.with_overrides({("api", "port"): port})
    key, _ = ensure_api_key(config, platform_db.engine)
    api = Background([HttpService("api", create_app(config, platform_db.engine), "127.0.0.1",
                                  port)])
    api.start()
    try:
        wait_http(f"http://127.0.0.1:{port}")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/v1", timeout=60,
                          headers={"St2-Api-Key": key}) as client:
            cancelled = client.delete(f"/executions/{first}")
            assert cancelled.status_code == 200, cancelled.text
            assert cancelled.json()["status"] == "canceled"
            deepest = client.get(f"/executions/{parent}").json()
            assert deepest["status"] == "canceled", deepest["status"]
            assert deepest["context"]["nesting"] == levels
            listed = client.get("/executions", params={"status": "requested"})
            assert listed.status_code == 200 and listed.json() == []
    finally:
        api.stop()


def test_a_body_past_the_size_limit_gets_a_413(served: Served) -> None:
    """As on the engine: a client body larger than jsontext.MAX_BODY is refused unread."""
    big = '{"action": "core.noop", "parameters": {"x": "' + "a" * MAX_BODY + '"}}'
    with served.client() as client:
        answer = client.post("/executions", content=big, headers=JSON)
        assert answer.status_code == 413, answer.text
        assert f"larger than {MAX_BODY} bytes" in answer.json()["faultstring"]
        assert client.post("/executions", json={"action": "core.noop"}).status_code == 201
