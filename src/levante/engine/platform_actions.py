"""Tasks that run platform actions (handshake 2 of docs/architecture.md), engine side.

A task whose action is not a standard or ad-hoc action but a platform ref such as
``core.local`` runs that action on the platform: ``POST /v1/executions`` with the task's
input as parameters, ``parent`` set to the platform execution that launched the workflow
(when one did) and ``context.mistral`` naming the workflow execution, task and action
execution. The action is asynchronous: the engine keeps its action execution RUNNING until
the platform reports the child's end with ``PUT /v2/action_executions/<id>``.

Where the platform is and how to authenticate come from the workflow's
``params.env.levante`` (``api_url``, ``credential``, ``execution_id``), written by the
platform when it launched the workflow; otherwise from the configuration (``[api]
public_url``) and the engine's own service key (``engine_api_key`` in the data folder,
see :mod:`levante.identity.keys`). Either is a service key, with which the engine asserts
(``X-Levante-User``) the user who started the workflow: the child runs as that user.

The runtime calls :func:`lookup` when a name is neither standard nor ad-hoc, and
:func:`job_input` before queueing the action, so that the worker has the origin.

The child's id is derived from the engine's action execution id (:func:`child_id`), and
the platform answers a repeated ``POST`` with that id with the child the first created:
so a platform that cannot be reached (connection error, timeout, HTTP 5xx/408/429) is
waited out, the request tried again with backoff for ``[engine] platform_retry_seconds``
(meanwhile the action holds no worker of the engine, see :data:`WAITING`), and an action
run again after its engine process died creates no second child. A definite refusal
(another 4xx) fails the task at once.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from levante.config import Config, find_option
from levante.contract import wire
from levante.db.local import local_of
from levante.engine.actions import UnknownAction
from levante.engine.actions import get_action as std_action
from levante.engine.actions.base import (
    MASKED,
    ActionContext,
    ActionError,
    ActionInputError,
    StdAction,
)
from levante.http_client import LoopClients
from levante.identity.keys import ASSERTED_USER_HEADER, service_key

log = logging.getLogger("levante.engine.platform_actions")

REF = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+$")
RESERVED_PACKS = frozenset({"std"})
ORIGIN = "__levante_origin"
ENGINE_KEY_FILE = "engine_api_key"  # the engine's service key in the data folder
REQUEST_TIMEOUT = 30.0
INITIAL_BACKOFF = 0.25  # s, doubled after each failed attempt up to the maximum
RETRYABLE_STATUS = frozenset({408, 429})  # besides every 5xx
CHILD_IDS = uuid.UUID("6c657661-6e74-6500-8000-6368696c6421")  # ids of child executions

# Set by the engine worker for each action it runs: called with True when the action
# starts to wait for the platform, with False when it goes on (a waiting action is not
# counted against the worker's room).
WAITING: ContextVar[Callable[[bool], None] | None] = ContextVar("platform_waiting",
                                                                default=None)


@dataclass(frozen=True)
class Retry:
    """How long and how the platform is waited for (``[engine] platform_*``)."""

    seconds: float
    request_timeout: float
    max_backoff: float

    @classmethod
    def of(cls, config: Config | None) -> Retry:
        def value(name: str) -> float:
            if config is None:
                return float(find_option("engine", name).default)
            return config.get_float("engine", name)

        return cls(value("platform_retry_seconds"), value("platform_request_timeout"),
                   value("platform_max_backoff"))


def child_id(action_execution_id: str) -> str:
    """The platform execution id of the child an action execution creates: always the
    same for one action execution, in the platform's form (24 hexadecimal digits)."""
    return uuid.uuid5(CHILD_IDS, action_execution_id).hex[:24]


def is_platform_ref(name: str) -> bool:
    """True for a name that may be a platform action (``pack.action``, not ``std.*``)."""
    if not isinstance(name, str) or not REF.match(name):
        return False
    return name.split(".", 1)[0] not in RESERVED_PACKS


class PlatformAction(StdAction):
    """A platform action run as a child execution; its result comes back by PUT."""

    is_async: ClassVar[bool] = True
    inline_ok: ClassVar[bool] = False
    description: ClassVar[str] = "An action of the automation platform."

    def __init__(self, ref: str) -> None:
        self.ref = ref
        self.name = ref  # type: ignore[misc]  # each instance is named by its ref

    @property
    def input_string(self) -> str:
        return ""

    def validate_input(self, input: Mapping[str, Any] | None) -> dict[str, Any]:
        """Any object: the platform checks the parameters against the action's schema."""
        if input is not None and not isinstance(input, Mapping):
            raise ActionInputError(self.ref, "input must be a mapping of parameter names to "
                                   f"values, got {type(input).__name__}")
        return dict(input or {})

    async def run(self, input: Mapping[str, Any], ctx: ActionContext) -> Any:
        """Create the child execution on the platform; raise ActionError if it is refused."""
        parameters = {k: v for k, v in input.items() if k != ORIGIN}
        origin = input.get(ORIGIN)
        origin = dict(origin) if isinstance(origin, Mapping) else {}
        api_url, credential = await asyncio.to_thread(where, origin, ctx)
        body = child_body(self.ref, parameters, origin, ctx)
        headers = {"St2-Api-Key": credential} if credential else {}
        if credential and isinstance(origin.get("user"), str) and origin["user"]:
            headers[ASSERTED_USER_HEADER] = origin["user"]
        response = await _post(f"{api_url}{wire.CHILDREN_PATH}", body, headers,
                               Retry.of(ctx.config), ctx.db)
        if response.status_code >= 300:
            raise ActionError(f"The platform refused to run {self.ref}: "
                              f"HTTP {response.status_code}: {_fault(response)}")
        try:
            child = response.json()
        except ValueError:
            child = {}
        if not isinstance(child, Mapping):
            child = {}
        shown = child.get("parameters")
        secret = sorted(k for k, v in shown.items()
                        if v == wire.PLATFORM_SECRET_MASK and k in parameters
                        ) if isinstance(shown, Mapping) else []
        # `masked`: the parameters the platform keeps secret; the engine's copy of the
        # input is masked the same way once the child exists (see finish_action).
        return {"platform_execution_id": child.get("id"), "masked": secret}


def lookup(name: str) -> PlatformAction | None:
    """The platform action ``name`` names, or None (then the name is unknown)."""
    return PlatformAction(name) if is_platform_ref(name) else None


def get_action(name: str) -> StdAction:
    """A standard action, else a platform action; UnknownAction otherwise (the worker's
    look-up of queued actions)."""

    try:
        return std_action(name)
    except UnknownAction:
        found = lookup(name)
        if found is None:
            raise
        return found


def _nesting(workflow: Mapping[str, Any]) -> int:
    """The workflow's level in its tree of workflows (the root is 1; see step_base)."""
    runtime = workflow.get("runtime_context")
    level = runtime.get("nesting") if isinstance(runtime, Mapping) else None
    return level if isinstance(level, int) and level > 0 else 1


def origin_of(workflow: Mapping[str, Any], task: Mapping[str, Any]) -> dict[str, Any]:
    """What the child needs to know about where it comes from."""
    params = workflow.get("params")
    env = params.get("env") if isinstance(params, Mapping) else None
    levante = env.get(wire.ENV_KEY) if isinstance(env, Mapping) else None
    levante = levante if isinstance(levante, Mapping) else {}
    runtime = workflow.get("runtime_context")
    user = runtime.get("user") if isinstance(runtime, Mapping) else None
    return {
        "workflow_execution_id": workflow.get("id"),
        "workflow_name": workflow.get("workflow_name"),
        "root_execution_id": workflow.get("root_execution_id"),
        "nesting": _nesting(workflow),
        "task_name": task.get("name"),
        "task_execution_id": task.get("id"),
        "parent": levante.get("execution_id") or None,
        "api_url": levante.get("api_url") or None,
        "credential": levante.get("credential") or None,
        "user": user if isinstance(user, str) and user else None,
    }


def job_input(action: StdAction, validated: dict[str, Any], workflow: Mapping[str, Any],
              task: Mapping[str, Any]) -> dict[str, Any]:
    """The input to queue for ``action``: unchanged for standard actions; for a platform
    action, with the origin (workflow, task, parent execution, platform URL) added."""
    if not isinstance(action, PlatformAction):
        return validated
    return {**validated, ORIGIN: origin_of(workflow, task)}


def where(origin: Mapping[str, Any], ctx: ActionContext) -> tuple[str, str | None]:
    """The platform's URL and the credential to call it with."""
    api_url = origin.get("api_url")
    credential = origin.get("credential")
    config = ctx.config
    if not api_url:
        if config is None:
            raise ActionError("The platform's URL is unknown: the workflow was not launched "
                              "by the platform and the engine has no configuration")
        api_url = config.public_url("api")
    if not credential and config is not None and ctx.db is not None:
        credential = service_key(ctx.db, config.data_dir, "engine", ENGINE_KEY_FILE)
    return str(api_url).rstrip("/"), (str(credential) if credential else None)


def child_body(ref: str, parameters: Mapping[str, Any], origin: Mapping[str, Any],
               ctx: ActionContext) -> dict[str, Any]:
    """The ``POST /v1/executions`` body of the child execution."""
    mistral = {
        "workflow_execution_id": origin.get("workflow_execution_id")
        or ctx.workflow_execution_id,
        "workflow_name": origin.get("workflow_name") or ctx.workflow_name,
        "root_execution_id": origin.get("root_execution_id"),
        "task_name": origin.get("task_name") or ctx.task_name,
        "task_execution_id": origin.get("task_execution_id") or ctx.task_execution_id,
        "action_execution_id": ctx.action_execution_id,
        # The level of the workflow in its tree: the platform adds it to its own nesting.
        "nesting": origin.get("nesting"),
    }
    if ctx.callback_url:
        mistral["callback_url"] = ctx.callback_url
    body: dict[str, Any] = {
        "action": ref,
        "parameters": dict(parameters),
        "context": {"mistral": {k: v for k, v in mistral.items() if v is not None}},
    }
    if origin.get("parent"):
        body["parent"] = origin["parent"]
        body["context"]["parent"] = {"execution_id": origin["parent"]}
    if ctx.action_execution_id:
        body["id"] = child_id(ctx.action_execution_id)
    return body


def _http(db: Any) -> httpx.AsyncClient:
    """The pooled client of this loop, kept on the engine database's `Local` (the platform
    actions of a process share it); a client of its own without a database."""
    clients = local_of(db).part(LoopClients) if db is not None else LoopClients()
    return clients.current(REQUEST_TIMEOUT)


def _retryable(status: int) -> bool:
    return status >= 500 or status in RETRYABLE_STATUS


async def _post(url: str, body: Mapping[str, Any], headers: Mapping[str, str],
                retry: Retry | None = None, db: Any = None) -> httpx.Response:
    """POST ``body``; while the platform cannot be reached or answers 5xx, again with
    backoff for ``retry.seconds`` (safe: the body names the child's id). The answer, or
    ActionError when the time is up."""
    retry = retry or Retry.of(None)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + retry.seconds
    delay = INITIAL_BACKOFF
    attempts = 0
    waiting = WAITING.get()
    client = _http(db)
    try:
        while True:
            try:
                response = await client.post(url, json=dict(body), headers=dict(headers),
                                             timeout=retry.request_timeout)
                if not _retryable(response.status_code):
                    return response
                error = f"HTTP {response.status_code}: {_fault(response)}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            attempts += 1
            left = deadline - loop.time()
            if left <= 0 or "id" not in body:  # no id: a retry could make a second child
                raise ActionError(f"The platform at {url} could not be reached for "
                                  f"{retry.seconds:g} s ([engine] platform_retry_seconds); "
                                  f"last error: {error}")
            if attempts == 1:
                log.warning("creating a child execution at %s: %s; trying again for up to "
                            "%.0f s", url, error, left)
                if waiting is not None:
                    waiting(True)
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, retry.max_backoff)
    finally:
        if attempts and waiting is not None:
            waiting(False)


def _fault(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, Mapping) and isinstance(body.get("faultstring"), str):
        return str(body["faultstring"])
    return response.text[:300]


def mask_input(input: Any, params: Any) -> Any:
    """A workflow's ``input`` (or ``output``, which without an ``output:`` clause is the
    whole context) as the API and the events show it: the inputs that the platform
    declared secret (``env.levante.secret_input``) masked."""
    env = params.get("env") if isinstance(params, Mapping) else None
    levante = env.get(wire.ENV_KEY) if isinstance(env, Mapping) else None
    names = levante.get("secret_input") if isinstance(levante, Mapping) else None
    if not isinstance(input, Mapping) or not isinstance(names, list) or not names:
        return input
    return masked(input, names)


def secret_values(params: Any, input: Any) -> list[str]:
    """The values of a workflow's inputs that the platform declared secret (as text)."""
    env = params.get("env") if isinstance(params, Mapping) else None
    levante = env.get(wire.ENV_KEY) if isinstance(env, Mapping) else None
    names = levante.get("secret_input") if isinstance(levante, Mapping) else None
    if not isinstance(input, Mapping) or not isinstance(names, list):
        return []
    found = {str(input[n]) for n in names if isinstance(n, str) and input.get(n) is not None
             and not isinstance(input[n], bool)}
    return sorted((v for v in found if v and v != MASKED), key=len, reverse=True)


def scrub(value: Any, secrets: Sequence[str]) -> Any:
    """``value`` with every occurrence of ``secrets`` masked, at any depth (what a workflow
    published or returned may hold a secret input under another name)."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            if value == secret:
                return MASKED
            if len(secret) >= MIN_SCRUBBED and secret in value:
                value = value.replace(secret, MASKED)
        return value
    if isinstance(value, Mapping):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, secrets) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool) and str(value) in secrets:
        return MASKED
    return value


MIN_SCRUBBED = 4  # shorter secrets are masked only where they are a whole value


def masked(values: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """A copy of `values` where those of `names` that are set read as masked."""
    return {k: (MASKED if k in names and v is not None else v) for k, v in values.items()}


def mask_params(params: Any) -> Any:
    """``params`` of a workflow execution as the API shows them: the platform's credential
    (``env.levante.credential``) masked."""
    if not isinstance(params, Mapping):
        return params
    env = params.get("env")
    levante = env.get(wire.ENV_KEY) if isinstance(env, Mapping) else None
    if not isinstance(levante, Mapping) or not levante.get("credential"):
        return params
    assert isinstance(env, Mapping)
    return {**params, "env": {**env, wire.ENV_KEY: {**levante, "credential": MASKED}}}
