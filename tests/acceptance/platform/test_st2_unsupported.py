"""The real `st2` CLI on routes Levante does not serve: an error, never an empty table."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from levante.platform.api.unsupported import UNSUPPORTED
from tests.acceptance.platform.conftest import Platform
from tests.acceptance.platform.test_st2_cli import ST2, st2

pytestmark = pytest.mark.skipif(
    not ST2.exists(), reason="st2client is not installed: run `make clients`"
)


@pytest.mark.parametrize(
    ("command", "what"),
    [
        (["policy", "list"], "Policies"),
        (["trace", "list"], "Traces"),
        (["action-alias", "list"], "Action aliases"),
    ],
)
def test_st2_says_what_is_not_supported(shared_sqlite_platform: Platform, tmp_path: Path,
                                        command: list[str], what: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    done = st2(shared_sqlite_platform, home, *command)
    assert done.returncode != 0, done.stdout
    output = done.stdout + done.stderr
    assert f"{what} is not supported by Levante" in output
    assert "No matching items found" not in output


def test_every_unsupported_prefix_answers_501_and_served_routes_are_untouched(
        shared_sqlite_platform: Platform) -> None:
    """Routing only: the database does not matter."""
    platform = shared_sqlite_platform
    headers = {"St2-Api-Key": platform.key}
    with httpx.Client(base_url=platform.url, headers=headers, timeout=10) as client:
        for prefix, what in UNSUPPORTED:
            for path in (prefix, prefix + "/some/thing"):
                # (GET /v1/packs/<name> is a pack: st2 reaches these pack routes by POST)
                answer = (client.post(path, json={}) if prefix.startswith("/v1/packs/")
                          else client.get(path))
                assert answer.status_code == 501, (path, answer.text)
                assert answer.json()["faultstring"] == f"{what} is not supported by Levante."
            assert client.post(prefix, json={}).status_code == 501
        # Served routes keep answering as before, and a route nobody claims is still a 404.
        assert client.get("/v1/actions").status_code == 200
        assert client.get("/v1/packs/core").status_code == 200
        assert client.get("/v1/executions").status_code == 200
        assert client.get("/v1/webhooks").status_code == 200
        assert client.get("/v1/timers").status_code == 200
        assert client.get("/v1/nothing-here").status_code == 404
        # Authentication comes first, as for every other route.
        assert httpx.get(platform.url + "/v1/policies", timeout=10).status_code == 401
