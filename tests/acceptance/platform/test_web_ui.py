"""The web UI: served without a key, and showing executions through the /v1 API."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.acceptance.platform.conftest import Platform


def test_page_is_served_and_a_browser_is_sent_to_it(sqlite_platform: Platform) -> None:
    page = httpx.get(sqlite_platform.url + "/ui/", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "/executions?limit=50" in page.text
    assert sqlite_platform.key not in page.text
    browser = httpx.get(sqlite_platform.url + "/", headers={"accept": "text/html"}, timeout=10)
    assert browser.status_code == 307
    assert browser.headers["location"] == "/ui/"
    api = httpx.get(sqlite_platform.url + "/", timeout=10)
    assert api.json()["api"] == "/v1"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="needs Chromium (Debian package chromium)")
def test_browser_lists_executions(sqlite_platform: Platform, tmp_path: Path) -> None:
    with sqlite_platform.client() as client:
        created = client.post("/executions", json={"action": "core.noop", "parameters": {}})
        assert created.status_code == 201, created.text
        execution_id = created.json()["id"]
    proc = subprocess.run(
        [_chromium() or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path}",
         "--virtual-time-budget=5000", "--dump-dom",
         f"{sqlite_platform.url}/ui/#key={sqlite_platform.key}"],
        capture_output=True, text=True, timeout=60,
    )
    assert execution_id[-10:] in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "core.noop" in proc.stdout
