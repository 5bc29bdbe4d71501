"""Bad text and structure limits on the platform API (issue 9, points 4 and 5), over HTTP on
SQLite and PostgreSQL."""

from __future__ import annotations

from tests.integration.platform.service.conftest import Served, wait_status


def test_nul_output_is_kept(served: Served) -> None:
    with served.client() as client:
        made = client.post("/executions", json={
            "action": "core.local", "parameters": {"cmd": "printf 'a\\000b'; printf 'x\\000' >&2"}})
        assert made.status_code == 201, made.text
        done = wait_status(client, made.json()["id"], {"succeeded", "failed"})
        print(done["result"])
        out = client.get(f"/executions/{done['id']}/output", params={"format": "json"})
        print(out.status_code, out.text)
        print(client.get(f"/executions/{done['id']}/output").text.encode())
        assert client.get("/executions").status_code == 200
