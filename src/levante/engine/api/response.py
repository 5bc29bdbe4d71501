"""The engine API's JSON answers: as Starlette's, but an answer never fails on text stored
before requests were checked (a lone surrogate is sent as its ``\\uXXXX`` escape)."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse as _StarletteJSONResponse

from levante.jsontext import safe_dumps


class JSONResponse(_StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        return safe_dumps(content, allow_nan=False)
