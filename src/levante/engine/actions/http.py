"""``std.http`` and ``std.mistral_http``: HTTP requests with Mistral's input and result shapes.

The result is ``{content, status, headers, url, history, encoding, reason, cookies,
elapsed}``; ``content`` is the decoded JSON body when the body is JSON, else its text. A
status outside 200-399 fails the action with that same dict as its error data.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpx

from levante.engine.actions.base import (
    REQUIRED,
    ActionContext,
    ActionError,
    IPNetwork,
    StdAction,
    redact,
)
from levante.engine.actions.netguard import DeniedNetwork, GuardedBackend, resolve_allowed

_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@lru_cache(maxsize=16)
def _ssl_context(verify: bool | str) -> ssl.SSLContext:
    """SSL contexts are costly to build (they load the CA store): build each kind once."""
    if verify is False:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if verify is True:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=verify)


def _transport(
    verify: bool | str, proxy: str | None, networks: Sequence[IPNetwork]
) -> httpx.AsyncHTTPTransport:
    try:
        ctx = _ssl_context(verify)
    except (OSError, ssl.SSLError) as exc:
        raise ActionError(f"std.http cannot use verify={verify!r}: {exc}") from None
    transport = httpx.AsyncHTTPTransport(verify=ctx, proxy=proxy, trust_env=False)
    if networks:
        # httpx has no public hook for the network backend; the pool reads this attribute
        # each time it opens a connection.
        transport._pool._network_backend = GuardedBackend(networks)
    return transport


class Http(StdAction):
    name = "std.http"
    description = "Sends an HTTP request; the result holds the response's content and status."
    input_spec = [
        ("url", REQUIRED),
        ("method", "GET"),
        ("params", None),
        ("body", None),
        ("json", None),
        ("headers", None),
        ("cookies", None),
        ("auth", None),
        ("timeout", None),
        ("allow_redirects", None),
        ("proxies", None),
        ("verify", None),
    ]
    secret_inputs = frozenset({"auth"})

    def check_input(self, values: dict[str, Any]) -> dict[str, Any]:
        url = values["url"]
        if not isinstance(url, str) or not url.strip():
            raise self.input_error("url", f"must be an http or https URL, got {url!r}")
        parts = urlsplit(url.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise self.input_error("url", f"must be an http or https URL, got {url!r}")
        values["url"] = url.strip()

        method = values["method"]
        if not isinstance(method, str) or not method or not set(method.upper()) <= _TOKEN_CHARS:
            raise self.input_error("method", f"must be an HTTP method such as GET, got {method!r}")
        values["method"] = method.upper()

        if values["body"] is not None and values["json"] is not None:
            raise self.input_error("json", "cannot be given together with 'body'")
        body = values["body"]
        if isinstance(body, dict | list | int | float | bool):
            values["body"] = json.dumps(body)

        params = values["params"]
        if params is not None and not isinstance(params, dict | list | str):
            raise self.input_error("params", f"must be a dict or a query string, got {params!r}")

        values["headers"] = self._headers(values["headers"])
        cookies = values["cookies"]
        if cookies is not None:
            if not isinstance(cookies, dict):
                raise self.input_error("cookies", "must be a dict of cookie names to values")
            values["cookies"] = {str(k): str(v) for k, v in cookies.items() if v is not None}

        values["auth"] = self._auth(values["auth"])

        timeout = values["timeout"]
        if timeout is not None:
            if isinstance(timeout, bool):
                raise self.input_error("timeout", f"must be a number of seconds, got {timeout!r}")
            try:
                timeout = float(timeout)
            except (TypeError, ValueError):
                raise self.input_error(
                    "timeout", f"must be a number of seconds, got {timeout!r}"
                ) from None
            if not timeout > 0:
                raise self.input_error("timeout", f"must be more than 0, got {timeout!r}")
            values["timeout"] = timeout

        values["allow_redirects"] = self._bool("allow_redirects", values["allow_redirects"], True)

        verify = values["verify"]
        if verify is None:
            values["verify"] = True
        elif isinstance(verify, str) and verify.lower() not in ("true", "false"):
            values["verify"] = verify
        else:
            values["verify"] = self._bool("verify", verify, True)

        proxies = values["proxies"]
        if proxies is not None:
            if isinstance(proxies, str):
                proxies = {"http": proxies, "https": proxies}
            if not isinstance(proxies, dict) or not all(
                isinstance(v, str) for v in proxies.values()
            ):
                raise self.input_error("proxies", "must be a dict of scheme to proxy URL")
            values["proxies"] = {str(k).split(":")[0].lower(): v for k, v in proxies.items()}
        return values

    def _headers(self, headers: Any) -> dict[str, str] | None:
        if headers is None:
            return None
        if not isinstance(headers, dict):
            raise self.input_error("headers", f"must be a dict of header names to values, got "
                                              f"{type(headers).__name__}")
        out: dict[str, str] = {}
        for key, val in headers.items():
            if val is None:
                continue
            if isinstance(val, dict | list):
                raise self.input_error("headers", f"value of header {key!r} must be a string")
            text = str(val).lower() if isinstance(val, bool) else str(val)
            if "\n" in text or "\r" in text:
                raise self.input_error("headers", f"value of header {key!r} has a line break")
            out[str(key)] = text
        return out

    def _auth(self, auth: Any) -> tuple[str, str] | None:
        if auth is None or auth == "":
            return None
        if isinstance(auth, str):
            if ":" not in auth:
                raise self.input_error("auth", "must be 'user:password' or [user, password]")
            user, _, password = auth.partition(":")
            return (user, password)
        if isinstance(auth, list | tuple) and len(auth) == 2:
            return (str(auth[0]), str(auth[1]))
        raise self.input_error("auth", "must be 'user:password' or [user, password]")

    def _bool(self, pname: str, value: Any, default: bool) -> bool:
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise self.input_error(pname, f"must be true or false, got {value!r}")

    def extra_headers(self, ctx: ActionContext) -> dict[str, str]:
        return {}

    async def run(self, input: Mapping[str, Any], ctx: ActionContext) -> Any:
        networks = ctx.effective_denied_networks()
        auth = input.get("auth")
        secrets = [auth[1]] if auth else []
        try:
            return await self._send(input, ctx, networks)
        except DeniedNetwork as exc:
            raise ActionError(
                f"{self.name} refused to reach {_safe_url(input['url'])}: {exc}"
            ) from None
        except httpx.TimeoutException:
            raise ActionError(
                f"Failed to send HTTP request to {_safe_url(input['url'])}: timed out after "
                f"{input.get('timeout')} seconds"
            ) from None
        except ActionError:
            raise
        except Exception as exc:  # the action's boundary: any failure fails the action
            message = redact(str(exc) or type(exc).__name__, secrets)
            raise ActionError(
                f"Failed to send HTTP request to {_safe_url(input['url'])}: {message}"
            ) from None

    async def _send(
        self, input: Mapping[str, Any], ctx: ActionContext, networks: Sequence[IPNetwork]
    ) -> Any:
        url: str = input["url"]
        verify = input["verify"] if url.lower().startswith("https") else True
        proxies: dict[str, str] | None = input.get("proxies")
        mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
        if proxies:
            if networks:
                # The proxy connects to the target: check the target's address here too,
                # when this host can resolve it (the proxy's own address is checked on
                # connect like any other).
                with contextlib.suppress(OSError):
                    await resolve_allowed(urlsplit(url).hostname or "", 0, networks)
            for scheme in ("http", "https"):
                if scheme in proxies:
                    mounts[f"{scheme}://"] = _transport(verify, proxies[scheme], networks)
        headers = dict(input.get("headers") or {})
        headers.update(self.extra_headers(ctx))
        timeout = httpx.Timeout(input.get("timeout"))
        client = httpx.AsyncClient(
            transport=_transport(verify, None, networks),
            mounts=mounts or None,
            timeout=timeout,
            follow_redirects=input["allow_redirects"],
            trust_env=False,
            cookies=input.get("cookies"),
        )
        async with client:
            auth = input.get("auth")
            body = input.get("body")
            request_kwargs: dict[str, Any] = {"params": input.get("params"), "headers": headers}
            if auth:
                request_kwargs["auth"] = httpx.BasicAuth(*auth)
            if input.get("json") is not None:
                request_kwargs["json"] = input["json"]
            elif body is not None:
                request_kwargs["content"] = body.encode() if isinstance(body, str) else body
            response = await client.request(input["method"], url, **request_kwargs)
        result = _result(response)
        if not 200 <= response.status_code < 400:
            raise ActionError(result)
        return result


def _safe_url(url: str) -> str:
    """The URL without any user:password part."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc).geturl()


def _content(response: httpx.Response) -> Any:
    text = response.text
    if not text:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _headers(response: httpx.Response) -> dict[str, str]:
    """Response headers in the case the server sent them; repeated ones joined by commas."""
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for raw_key, raw_value in response.headers.raw:
        key = raw_key.decode("latin-1")
        value = raw_value.decode("latin-1")
        first = seen.setdefault(key.lower(), key)
        out[first] = f"{out[first]}, {value}" if first in out else value
    return out


def _result(response: httpx.Response) -> dict[str, Any]:
    return {
        "content": _content(response),
        "status": response.status_code,
        "headers": _headers(response),
        "url": _safe_url(str(response.url)),
        "history": [
            {"status": r.status_code, "url": _safe_url(str(r.url)), "reason": r.reason_phrase}
            for r in response.history
        ],
        "encoding": response.charset_encoding,
        "reason": response.reason_phrase,
        "cookies": dict(response.cookies.items()),
        "elapsed": response.elapsed.total_seconds(),
    }


class MistralHttp(Http):
    name = "std.mistral_http"
    description = (
        "Like std.http, but completes only when the called service reports the result to "
        "the URL in its Mistral-Callback-URL header."
    )
    is_async = True

    def extra_headers(self, ctx: ActionContext) -> dict[str, str]:
        headers = {
            "Mistral-Workflow-Name": ctx.workflow_name,
            "Mistral-Workflow-Execution-Id": ctx.workflow_execution_id,
            "Mistral-Task-Id": ctx.task_execution_id,
            "Mistral-Action-Execution-Id": ctx.action_execution_id,
            "Mistral-Callback-URL": ctx.callback_url,
        }
        return {k: v for k, v in headers.items() if v}
