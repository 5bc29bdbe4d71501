"""The ``http-request`` runner: one HTTP request, the response in StackStorm's shape."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from levante.platform.runners.base import OutputCallback, RunOutcome, RunRequest

DEFAULT_TIMEOUT = 60.0


def _auth(params: dict[str, Any]) -> tuple[httpx.BasicAuth | None, dict[str, str]]:
    """Basic auth from username/password; st2's ``auth`` string (``name=value``) as header."""
    headers: dict[str, str] = {}
    basic = None
    if params.get("username"):
        basic = httpx.BasicAuth(str(params["username"]), str(params.get("password") or ""))
    auth = params.get("auth")
    if isinstance(auth, str) and auth:
        name, sep, value = auth.partition("=")
        if sep and name.strip():
            headers[name.strip()] = value
        else:
            headers["Authorization"] = auth
    return basic, headers


def _body(params: dict[str, Any], headers: dict[str, str]) -> bytes | None:
    body = params.get("body")
    if body is None:
        return None
    if isinstance(body, str):
        return body.encode("utf-8")
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    return json.dumps(body).encode("utf-8")


def _proxy(params: dict[str, Any], url: str) -> str | None:
    if url.lower().startswith("https:"):
        value = params.get("https_proxy")
    else:
        value = params.get("http_proxy")
    return str(value) if value else None


def public_url(url: str) -> str:
    """The URL without any user:password part, fit for messages and logs."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "(invalid URL)"
    return str(parsed.copy_with(userinfo=b"")) if parsed.userinfo else url


def parse_body(text: str, content_type: str) -> tuple[Any, bool]:
    """The body as JSON when it says it is (or looks like) JSON; else the text."""
    if "json" in content_type.lower() or text[:1] in ("{", "["):
        try:
            return json.loads(text), True
        except ValueError:
            return text, False
    return text, False


def _timeout(request: RunRequest) -> float:
    value = request.parameters.get("timeout")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return request.timeout or DEFAULT_TIMEOUT


async def run_http_request(request: RunRequest, on_output: OutputCallback) -> RunOutcome:
    """Send the request; 2xx succeeds, any other status (or no answer) fails."""
    del on_output
    params = request.parameters
    url = str(params.get("url") or "")
    shown = public_url(url)
    if not url.lower().startswith(("http://", "https://")):
        return RunOutcome("failed", {"error": f"Parameter 'url': {shown!r} is not an "
                                              "http(s) URL"})
    method = str(params.get("method") or "GET").upper()
    basic, headers = _auth(params)
    headers.update({str(k): str(v) for k, v in (params.get("headers") or {}).items()})
    content = _body(params, headers)
    query = params.get("params") or None
    timeout = _timeout(request)
    cookies = {str(k): str(v) for k, v in (params.get("cookies") or {}).items()}
    try:
        async with httpx.AsyncClient(
            cookies=cookies or None,
            verify=bool(params.get("verify_ssl_cert", True)),
            follow_redirects=bool(params.get("allow_redirects", False)),
            timeout=timeout,
            proxy=_proxy(params, url),
            trust_env=False,
        ) as client:
            send = client.request(method, url, headers=headers, content=content,
                                  params=query, auth=basic or httpx.USE_CLIENT_DEFAULT)
            response = await asyncio.wait_for(send, request.timeout) if request.timeout \
                else await send
    except (TimeoutError, httpx.TimeoutException):
        return RunOutcome("timeout", {"error": f"No response from {shown} within the "
                                               f"timeout of {timeout:g} seconds"})
    except httpx.HTTPError as exc:
        reason = str(exc).replace(url, shown) or type(exc).__name__
        return RunOutcome("failed", {"error": f"Request to {shown} failed: {reason}"})
    except (ValueError, TypeError) as exc:
        reason = str(exc).replace(url, shown)
        return RunOutcome("failed", {"error": f"Request to {shown} could not be sent: "
                                              f"{reason}"})
    body, parsed = parse_body(response.text, response.headers.get("content-type", ""))
    result = {
        "status_code": response.status_code,
        "body": body,
        "parsed": parsed,
        "headers": dict(response.headers.items()),
    }
    ok = 200 <= response.status_code < 300
    return RunOutcome("succeeded" if ok else "failed", result)
