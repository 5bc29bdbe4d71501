"""A small HTTP client of the platform API v1, for the `levante` CLI.

The URL comes from the configuration (`[api] public_url`, or host and port) unless given;
the key from ``LEVANTE_API_KEY``, ``ST2_API_KEY``, or the key file `levante up` wrote in
the data folder.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from levante.config import Config
from levante.platform.core.keyfile import KEY_FILE_NAME, read_key_file


class ApiCallError(Exception):
    """The API answered with an error or could not be reached; the message says which."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def find_api_key(config: Config) -> str | None:
    for name in ("LEVANTE_API_KEY", "ST2_API_KEY"):
        value = os.environ.get(name)
        if value:
            return value
    return read_key_file(config.data_dir)


class PlatformClient:
    """Calls /v1 with the key; turns errors into `ApiCallError` with the faultstring."""

    def __init__(self, base_url: str, api_key: str | None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"St2-Api-Key": api_key} if api_key else {}
        self.http = httpx.Client(base_url=self.base_url + "/v1", headers=headers,
                                 timeout=timeout)
        self.has_key = bool(api_key)

    @classmethod
    def from_config(cls, config: Config, api_url: str | None = None) -> PlatformClient:
        url = api_url or os.environ.get("LEVANTE_API_URL") or config.public_url("api")
        if url.endswith("/v1"):
            url = url[: -len("/v1")]
        return cls(url, find_api_key(config))

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiCallError(
                f"cannot reach the platform API at {self.base_url}/v1 ({exc}); "
                "is `levante up` (or `levante serve api`) running?"
            ) from None
        if response.status_code >= 400:
            raise ApiCallError(self._fault(response), response.status_code)
        return response

    def _fault(self, response: httpx.Response) -> str:
        try:
            message = str(response.json().get("faultstring") or response.text)
        except (ValueError, AttributeError):
            message = response.text or response.reason_phrase
        if response.status_code == 401 and not self.has_key:
            message += (f" No API key found: set LEVANTE_API_KEY or ST2_API_KEY, or run "
                        f"`levante up`, which writes one to the data folder ({KEY_FILE_NAME}).")
        return message

    def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=clean).json()

    def get_with_total(self, path: str, **params: Any) -> tuple[Any, int | None]:
        clean = {k: v for k, v in params.items() if v is not None}
        response = self.request("GET", path, params=clean)
        total = response.headers.get("X-Total-Count")
        return response.json(), int(total) if total and total.isdigit() else None

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body).json()

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, json=body).json()

    def delete(self, path: str) -> Any:
        response = self.request("DELETE", path)
        return response.json() if response.content else None

    def text(self, path: str, **params: Any) -> str:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=clean).text
