"""The web UI: served without a key, and showing executions through the /v1 API."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.platform.conftest import Platform


def test_page_is_served_and_a_browser_is_sent_to_it(shared_sqlite_platform: Platform) -> None:
    page = httpx.get(shared_sqlite_platform.url + "/ui/", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "/executions?limit=50" in page.text
    assert shared_sqlite_platform.key not in page.text
    browser = httpx.get(shared_sqlite_platform.url + "/", headers={"accept": "text/html"},
                        timeout=10)
    assert browser.status_code == 307
    assert browser.headers["location"] == "/ui/"
    api = httpx.get(shared_sqlite_platform.url + "/", timeout=10)
    assert api.json()["api"] == "/v1"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="needs Chromium (Debian package chromium)")
def test_browser_lists_executions(shared_sqlite_platform: Platform, tmp_path: Path) -> None:
    with shared_sqlite_platform.client() as client:
        created = client.post("/executions", json={"action": "core.noop", "parameters": {}})
        assert created.status_code == 201, created.text
        execution_id = created.json()["id"]
    proc = subprocess.run(
        [_chromium() or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path}",
         "--virtual-time-budget=5000", "--dump-dom",
         f"{shared_sqlite_platform.url}/ui/#key={shared_sqlite_platform.key}"],
        capture_output=True, text=True, timeout=60,
    )
    assert execution_id[-10:] in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "core.noop" in proc.stdout


HARNESS = Path(__file__).with_name("ui_harness.js")


def _play(platform: Platform, tmp_path: Path, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run the page's own script in Node against the API; what it showed after each step."""
    page = httpx.get(platform.url + "/ui/", timeout=10)
    (tmp_path / "page.html").write_text(page.text, encoding="utf-8")
    (tmp_path / "steps.json").write_text(json.dumps(steps), encoding="utf-8")
    proc = subprocess.run(
        [shutil.which("node") or "node", str(HARNESS), platform.url,
         str(tmp_path / "page.html"), str(tmp_path / "steps.json")],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js (Debian package nodejs)")
def test_web_url_opens_that_execution(shared_sqlite_platform: Platform, tmp_path: Path) -> None:
    with shared_sqlite_platform.client() as client:
        first = client.post("/executions", json={"action": "core.local",
                                                 "parameters": {"cmd": "echo linked"}}).json()
        client.post("/executions", json={"action": "core.noop", "parameters": {}})
        web_url = client.get(f"/executions/{first['id']}").json()["web_url"]
    assert web_url == f"{shared_sqlite_platform.url}/ui/#/history/{first['id']}/general"
    # What a browser does with it: GET the path (the UI page), keep the fragment.
    path, _, fragment = web_url.partition("#")
    assert httpx.get(path, timeout=10).status_code == 200
    seen = _play(shared_sqlite_platform, tmp_path, [
        {"do": "open", "key": shared_sqlite_platform.key, "hash": "#" + fragment},
        {"do": "tick"},
    ])
    for shown in seen:
        assert shown["title"].startswith("core.local"), shown
        assert first["id"] in shown["detail"] and "echo linked" in shown["detail"]
        assert shown["selected_rows"] == 1 and shown["message"] == ""
        # ids are shown whole, so they can be copied into the CLI
        assert [first["id"]] == [r[0] for r in shown["rows"] if r[0] == first["id"]]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js (Debian package nodejs)")
def test_an_error_stays_until_dismissed_or_the_user_acts(shared_sqlite_platform: Platform,
                                                         tmp_path: Path) -> None:
    seen = _play(shared_sqlite_platform, tmp_path, [
        {"do": "open", "key": shared_sqlite_platform.key},
        {"do": "run", "action": "core.nope", "params": ""},
        {"do": "tick"},
        {"do": "tick"},
        {"do": "dismiss"},
        {"do": "run", "action": "core.noop", "params": "{not json"},
        {"do": "tick"},
        {"do": "run", "action": "core.noop", "params": "{}"},
        {"do": "navigate", "hash": "#/history/0123456789abcdef01234567/general"},
        {"do": "tick"},
        {"do": "click_row", "index": 0},
    ])
    opened, refused, tick1, tick2, dismissed, bad_json, tick3, ran, linked, tick4, clicked = seen
    assert opened["message"] == "" and opened["message_hidden"]
    assert 'Action "core.nope" cannot be found' in refused["message"]
    # two periodic refreshes (each succeeds) do not wipe it
    assert tick1["message"] == refused["message"] == tick2["message"]
    assert dismissed["message"] == "" and dismissed["message_hidden"]
    assert bad_json["message"].startswith("The parameters are not valid JSON")
    assert tick3["message"] == bad_json["message"]
    # acting again clears it; the new execution is selected and its link is in the address
    assert ran["message"] == "" and ran["title"].startswith("core.noop")
    assert ran["hash"].startswith("#/history/") and ran["selected_rows"] == 1
    # a link to an execution that does not exist says so, and keeps saying it
    assert "cannot be found" in linked["message"]
    assert tick4["message"] == linked["message"]
    assert clicked["message"] == "" and clicked["title"].startswith("core.noop")
