"""The web UI: one static page that drives the platform's /v1 API from the browser.

The page holds no data; its script asks the API with the key the user gives it (kept in
the browser's local storage), so the UI needs no authentication of its own.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

UI_PATH = "/ui/"
PUBLIC_PATHS = frozenset({"/ui", UI_PATH})


@cache
def page() -> str:
    return resources.files(__package__).joinpath("index.html").read_text(encoding="utf-8")


async def ui(request: Request) -> Response:
    if request.url.path != UI_PATH:
        return RedirectResponse(UI_PATH)
    return HTMLResponse(
        page(),
        headers={
            "content-security-policy": "default-src 'self'; script-src 'unsafe-inline'; "
            "style-src 'unsafe-inline'; connect-src 'self'",
            "x-content-type-options": "nosniff",
        },
    )


def routes() -> list[Route]:
    return [Route("/ui", ui, methods=["GET"]), Route(UI_PATH, ui, methods=["GET"])]
