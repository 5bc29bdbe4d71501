"""std.http and std.mistral_http against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from levante.config import load_config
from levante.engine.actions import ActionContext, ActionError, get_action
from levante.engine.actions.base import parse_networks

from .conftest import AUTH_PASSWORD, AUTH_USER

CTX = ActionContext()


def http(input: dict[str, Any], ctx: ActionContext = CTX, name: str = "std.http") -> Any:
    return asyncio.run(get_action(name).call(input, ctx))


def test_get_with_params_returns_mistral_result_shape(http_url: str) -> None:
    result = http({"url": f"{http_url}/echo", "params": {"q": "x y", "n": 2}})
    assert set(result) >= {
        "content", "status", "headers", "url", "history", "encoding", "reason",
    }
    assert result["status"] == 200
    assert result["reason"] == "OK"
    assert result["content"]["method"] == "GET"
    assert result["content"]["query"] == {"q": ["x y"], "n": ["2"]}
    assert result["headers"]["Content-Type"] == "application/json"
    assert result["encoding"] is None
    assert result["url"].startswith(f"{http_url}/echo?")
    assert result["history"] == []


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get"])
def test_methods(http_url: str, method: str) -> None:
    result = http({"url": f"{http_url}/echo", "method": method})
    assert result["content"]["method"] == method.upper()


def test_head_has_empty_content(http_url: str) -> None:
    result = http({"url": f"{http_url}/echo", "method": "HEAD"})
    assert result["status"] == 200 and result["content"] == ""


def test_json_body(http_url: str) -> None:
    result = http({"url": f"{http_url}/echo", "method": "POST", "json": {"a": [1, 2]}})
    echoed = result["content"]
    assert echoed["headers"]["content-type"] == "application/json"
    assert echoed["body"].replace(" ", "") == '{"a":[1,2]}'


def test_dict_body_is_sent_as_json_text(http_url: str) -> None:
    result = http({"url": f"{http_url}/echo", "method": "POST", "body": {"k": "v"}})
    assert result["content"]["body"] == '{"k": "v"}'
    raw = http({"url": f"{http_url}/echo", "method": "PUT", "body": "plain text"})
    assert raw["content"]["body"] == "plain text"


def test_headers_and_cookies_are_sent(http_url: str) -> None:
    result = http({
        "url": f"{http_url}/echo",
        "headers": {"X-Trace": "abc", "X-Number": 5, "X-Flag": True},
        "cookies": {"session": "42"},
    })
    headers = result["content"]["headers"]
    assert headers["x-trace"] == "abc"
    assert headers["x-number"] == "5"
    assert headers["x-flag"] == "true"
    assert headers["cookie"] == "session=42"


def test_response_cookies_and_text_content(http_url: str) -> None:
    result = http({"url": f"{http_url}/cookie"})
    assert result["cookies"] == {"flavour": "mint"}
    text = http({"url": f"{http_url}/text"})
    assert text["content"] == "héllo"
    assert text["encoding"] == "utf-8"


@pytest.mark.parametrize("auth", [f"{AUTH_USER}:{AUTH_PASSWORD}", [AUTH_USER, AUTH_PASSWORD]])
def test_basic_auth(http_url: str, auth: Any) -> None:
    result = http({"url": f"{http_url}/auth", "auth": auth})
    assert result["content"] == {"user": AUTH_USER}


def test_wrong_auth_is_an_error_without_the_password(http_url: str) -> None:
    with pytest.raises(ActionError) as info:
        http({"url": f"{http_url}/auth", "auth": "alice:wrong-password-xyz"})
    assert info.value.result["status"] == 401
    assert "wrong-password-xyz" not in str(info.value.result)
    assert "wrong-password-xyz" not in str(info.value)


def test_redirects_followed_by_default(http_url: str) -> None:
    result = http({"url": f"{http_url}/redirect?to=/echo"})
    assert result["status"] == 200
    assert result["url"] == f"{http_url}/echo"
    assert [h["status"] for h in result["history"]] == [302]


def test_redirects_not_followed_when_disallowed(http_url: str) -> None:
    result = http({"url": f"{http_url}/redirect?to=/echo", "allow_redirects": False})
    assert result["status"] == 302
    assert result["headers"]["Location"] == "/echo"


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_non_2xx_3xx_is_an_error_with_the_result(http_url: str, status: int) -> None:
    with pytest.raises(ActionError) as info:
        http({"url": f"{http_url}/status/{status}"})
    error = info.value.result
    assert error["status"] == status
    assert error["content"] == {"status": status, "error": "as asked"}


def test_2xx_other_than_200_succeeds(http_url: str) -> None:
    assert http({"url": f"{http_url}/status/204"})["status"] == 204


def test_timeout(http_url: str) -> None:
    start = time.monotonic()
    with pytest.raises(ActionError, match=r"timed out after 0\.3 seconds"):
        http({"url": f"{http_url}/slow?seconds=1.5", "timeout": 0.3})
    assert time.monotonic() - start < 1.4


def test_connection_refused_is_a_clear_error(port: int) -> None:
    with pytest.raises(ActionError, match="Failed to send HTTP request"):
        http({"url": f"http://127.0.0.1:{port}/", "timeout": 2})


def test_password_in_url_is_not_shown_in_errors(port: int) -> None:
    with pytest.raises(ActionError) as info:
        http({"url": f"http://bob:pw-in-url-123@127.0.0.1:{port}/", "timeout": 2})
    assert "pw-in-url-123" not in str(info.value)


def test_denied_network_is_refused(http_url: str) -> None:
    ctx = ActionContext(denied_networks=parse_networks(["127.0.0.0/8", "::1/128"]))
    with pytest.raises(ActionError) as info:
        http({"url": f"{http_url}/echo"}, ctx)
    message = str(info.value)
    assert "refused" in message and "127.0.0.0/8" in message
    assert "http_denied_networks" in message


def test_denied_network_checked_on_resolved_name(http_url: str) -> None:
    ctx = ActionContext(denied_networks=parse_networks(["127.0.0.0/8", "::1/128"]))
    port = http_url.rsplit(":", 1)[1]
    with pytest.raises(ActionError, match="localhost resolves to"):
        http({"url": f"http://localhost:{port}/echo"}, ctx)


def test_denied_network_from_config(http_url: str) -> None:
    config = load_config(environ={}).with_overrides(
        {("engine", "http_denied_networks"): ["127.0.0.1/32"]}
    )
    with pytest.raises(ActionError, match=r"denied network 127\.0\.0\.1/32"):
        http({"url": f"{http_url}/echo"}, ActionContext(config=config))


def test_other_networks_stay_reachable(http_url: str) -> None:
    ctx = ActionContext(denied_networks=parse_networks(["10.0.0.0/8", "127.0.0.2/32"]))
    assert http({"url": f"{http_url}/echo"}, ctx)["status"] == 200


def test_redirect_into_denied_network_is_refused(http_url: str, other_http_url: str) -> None:
    ctx = ActionContext(denied_networks=parse_networks(["127.0.0.2/32"]))
    assert http({"url": f"{other_http_url}/echo"})["status"] == 200  # reachable otherwise
    with pytest.raises(ActionError, match=r"127\.0\.0\.2"):
        http({"url": f"{http_url}/redirect?to={other_http_url}/echo"}, ctx)


def test_mistral_http_sends_mistral_headers(http_url: str) -> None:
    ctx = ActionContext(
        workflow_execution_id="wf-1",
        task_execution_id="task-2",
        action_execution_id="action-3",
        task_name="call",
        callback_url="http://127.0.0.1:8989/v2/action_executions/action-3",
        workflow_name="my_wf",
    )
    action = get_action("std.mistral_http")
    assert action.is_async
    result = http({"url": f"{http_url}/echo", "headers": {"X-Own": "1"}}, ctx, action.name)
    headers = result["content"]["headers"]
    assert headers["mistral-workflow-name"] == "my_wf"
    assert headers["mistral-workflow-execution-id"] == "wf-1"
    assert headers["mistral-task-id"] == "task-2"
    assert headers["mistral-action-execution-id"] == "action-3"
    assert headers["mistral-callback-url"] == (
        "http://127.0.0.1:8989/v2/action_executions/action-3"
    )
    assert headers["x-own"] == "1"


def test_mistral_http_error_status_fails_at_once(http_url: str) -> None:
    with pytest.raises(ActionError) as info:
        http({"url": f"{http_url}/status/500"}, CTX, "std.mistral_http")
    assert info.value.result["status"] == 500


def test_proxies_are_used(http_url: str, other_http_url: str) -> None:
    # The test server answers absolute-URL requests itself, so it serves as a plain proxy.
    result = http({"url": "http://service.invalid/echo", "proxies": {"http": other_http_url}})
    assert result["content"]["headers"]["host"] == "service.invalid"


def test_proxy_in_denied_network_is_refused(other_http_url: str) -> None:
    ctx = ActionContext(denied_networks=parse_networks(["127.0.0.2/32"]))
    with pytest.raises(ActionError, match="refused"):
        http({"url": "http://service.invalid/echo", "proxies": {"http": other_http_url}}, ctx)


def test_target_in_denied_network_is_refused_even_through_a_proxy(
    http_url: str, other_http_url: str
) -> None:
    ctx = ActionContext(denied_networks=parse_networks(["127.0.0.1/32"]))
    with pytest.raises(ActionError, match=r"127\.0\.0\.1/32"):
        http({"url": f"{http_url}/echo", "proxies": {"http": other_http_url}}, ctx)
