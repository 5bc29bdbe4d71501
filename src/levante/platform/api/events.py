"""Receiver routes: engine events in, idempotently applied (see
levante.platform.workflows.receiver).

- ``POST /v1/webhooks/levante``: events of Levante's notifier, authenticated by their
  Standard Webhooks signature (the shared signing secret); no API key needed. A missing or
  wrong signature answers 401 and is logged.
- ``POST /v1/webhooks/mistral``: the same events in the shape of a Mistral server's
  ``webhook`` publisher. Signed by the engine like the above; unsigned (authenticated like
  any API call, ``St2-Api-Key`` in the subscription's ``headers``) only when
  ``[receiver] accept_unsigned_mistral`` says a real Mistral server is on the other side.
Answers: 200 applied (or duplicate/late: nothing changed), 202 the rest is fetched by the
tracker, 400 not an event, 401 bad or missing signature, 404 unknown execution, 503 the
database refuses writes for now (the sender tries again).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from levante import jsontext
from levante.contract.signing import SignatureError, verify
from levante.contract.wire import MISTRAL_RECEIVER_PATH, RECEIVER_PATH
from levante.platform.api.common import fault, json_response, platform
from levante.platform.workflows import receiver
from levante.platform.workflows import tracker as resultstracker

log = logging.getLogger("levante.platform.receiver")

LEVANTE_PATH = RECEIVER_PATH
MISTRAL_PATH = MISTRAL_RECEIVER_PATH
PUBLIC = frozenset({LEVANTE_PATH, LEVANTE_PATH + "/"})

def _secret(request: Request) -> str:
    return platform(request).event_secret()


def _parse(raw: bytes) -> Any:
    """The event body. Its depth is limited; its text is not checked here: an engine event
    carries what the workflow produced (e.g. output holding NUL characters), to be kept."""
    try:
        return jsontext.loads(raw, text=False)
    except jsontext.BadJson as exc:
        raise receiver.BadEvent(str(exc)) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise receiver.BadEvent(f"the body is not valid JSON: {exc}") from None


async def _handle(request: Request, require_signature: bool) -> Response:
    raw = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    if not require_signature and "webhook-signature" not in headers and \
            not platform(request).config.get_bool("receiver", "accept_unsigned_mistral"):
        client = request.client.host if request.client else "?"
        log.warning("refused an unsigned event from %s on %s", client, request.url.path)
        return fault(401, "Unauthorized - the event is not signed by the engine; unsigned "
                          "Mistral callbacks are accepted only with [receiver] "
                          "accept_unsigned_mistral = true")
    if require_signature or "webhook-signature" in headers:
        try:
            verify(_secret(request), headers, raw)
        except SignatureError as exc:
            client = request.client.host if request.client else "?"
            log.warning("refused an event from %s on %s: bad signature (%s)", client,
                        request.url.path, exc)
            return fault(401, f"Unauthorized - the event signature is not valid: {exc}")
    try:
        body = _parse(raw)
        updates = receiver.parse_events(body)
    except receiver.BadEvent as exc:
        return fault(400, f"Not a workflow event: {exc}")
    db = platform(request).db
    applied = await asyncio.to_thread(receiver.apply_updates, db, updates)
    if applied.status == 404:
        log.warning("event for an unknown workflow execution: %s", applied.message)
        return fault(404, applied.message)
    if applied.extra.get("track"):
        resultstracker.wake_trackers(db)
    return json_response({"message": applied.message, "execution_id": applied.execution_id,
                          "changed": applied.changed}, applied.status)


async def levante_event(request: Request) -> Response:
    return await _handle(request, require_signature=True)


async def mistral_event(request: Request) -> Response:
    return await _handle(request, require_signature=False)


def routes() -> list[Route]:
    return [
        Route(LEVANTE_PATH, levante_event, methods=["POST"]),
        Route(LEVANTE_PATH + "/", levante_event, methods=["POST"]),
        Route(MISTRAL_PATH, mistral_event, methods=["POST"]),
        Route(MISTRAL_PATH + "/", mistral_event, methods=["POST"]),
    ]
