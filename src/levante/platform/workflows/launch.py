"""Launch of a workflow action on the engine (handshake 1 of docs/architecture.md).

The workflow runner hands a requested execution here. The workflow YAML (the action's
entry point in its pack) is registered or updated on the engine (``PUT``, else ``POST
/v2/workflows``; a workbook goes to ``/v2/workbooks``), then started with ``POST
/v2/executions`` under an id derived from the platform execution's (so a retried start is
the same execution: the engine answers a known id with that execution). ``params.env``
carries the platform execution id, the URL of the receiver and a credential
(``env.levante``, plus StackStorm's ``st2_*`` keys);
``params.notify`` subscribes the platform to the events. Before the start, the engine's id
is written in ``context.mistral.execution_id``, so that events arriving at once find the
execution. After the start, the runner's claim on the execution is released: the receiver
(or the results tracker) ends it, and no runner is held for the workflow's lifetime.

An engine that cannot be reached (connection error, timeout, HTTP 5xx/408/429) is waited
out: each step is tried again with backoff for ``[runner] launch_retry_seconds``, and
while it waits the launch holds no worker of its runner (:data:`WAITING`). Only a definite
refusal (another 4xx, e.g. an input the workflow does not accept) fails it at once. When
the time is up, the engine is asked whether the workflow exists: if it does (or may, as
a request may have reached it), it is tracked by the results tracker instead of failed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import Engine

from levante.config import Config
from levante.contract import wire
from levante.db import faults
from levante.http_client import LoopClients
from levante.identity.keys import service_key
from levante.platform.core.yaml_files import YamlFileError, load_yaml_text
from levante.platform.runners.base import RunOutcome, RunRequest, Status
from levante.platform.workflows import rerun as workflow_rerun
from levante.platform.workflows import store as ts
from levante.platform.workflows.engine_auth import waited_engine_headers

log = logging.getLogger("levante.platform.workflow_launch")
T = TypeVar("T")

# What a launched workflow leaves the platform execution in: still running, handed over.
HANDED_OVER: Status = "running"
RUNNER_PARAMETERS = frozenset({"context", "skip_notify", "task", "workflow"})
ENGINE_KEY_FILE = "engine_api_key"
NAMESPACE = uuid.UUID("6c657661-6e74-6500-8000-776f726b666c")  # ids of launched workflows
REQUEST_TIMEOUT = 30.0
INITIAL_BACKOFF = 0.25  # s, doubled after each failed attempt up to launch_max_backoff
RETRYABLE_STATUS = frozenset({408, 429})  # besides every 5xx
TRACK_REASON = "launch-retry"  # a launch whose retries ran out, the workflow known

# Set by the runner for the task of each execution: called with True when the launch
# starts to wait for the engine, with False when it goes on (the runner does not count a
# waiting launch against its workers).
WAITING: ContextVar[Callable[[bool], None] | None] = ContextVar("launch_waiting",
                                                                default=None)


class LaunchError(Exception):
    """The workflow cannot be started; the message says why (no secret in it)."""


class EngineUnavailable(LaunchError):
    """The engine could not be reached or answered it cannot serve now (worth retrying).

    ``delivered``: the request may have reached the engine (a timeout, a broken
    connection, a 5xx), so what it asked for may have happened."""

    def __init__(self, message: str, delivered: bool) -> None:
        super().__init__(message)
        self.delivered = delivered


class EngineRefused(LaunchError):
    """A definite answer of the engine (4xx): trying again would not help."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Definition:
    """A workflow YAML: its text, the workflow to start, and whether it is a workbook."""

    text: str
    workflow_name: str
    workbook: str | None = None


@dataclass(frozen=True)
class Settings:
    """What launches need from the platform's configuration."""

    config: Config
    db: Engine
    engine_url: str
    api_url: str
    retry_seconds: float = 300.0
    request_timeout: float = REQUEST_TIMEOUT
    max_backoff: float = 10.0

    @classmethod
    def from_config(cls, config: Config, db: Engine) -> Settings:
        return cls(config, db, config.public_url("engine"), config.public_url("api"),
                   retry_seconds=config.get_float("runner", "launch_retry_seconds"),
                   request_timeout=config.get_float("runner", "launch_request_timeout"),
                   max_backoff=config.get_float("runner", "launch_max_backoff"))


# (engine URL, definition name) -> digest of the text registered there by this launcher
Registered = dict[tuple[str, str], str]


# --- the definition -----------------------------------------------------------------------


def _wanted(names: list[str], wanted: str | None, prefix: str, where: str) -> str:
    if wanted:
        for candidate in (wanted, f"{prefix}{wanted}"):
            if candidate in names:
                return candidate
        raise LaunchError(f"{where}: has no workflow {wanted!r} (it has: {', '.join(names)})")
    if len(names) == 1:
        return names[0]
    raise LaunchError(f"{where}: holds several workflows ({', '.join(names)}); name the one "
                      "to run with the 'workflow' parameter")


Parsed = dict[str, tuple[str, Any]]  # path -> (text, parsed), last read


def _parsed(path: Path, text: str, cache: Parsed | None) -> Any:
    """The YAML of a workflow file, parsed again only when its text changed (parsing is
    most of a launch's own cost; the file itself is read each time, so edits count)."""
    key = str(path)
    hit = cache.get(key) if cache is not None else None
    if hit is not None and hit[0] == text:
        return hit[1]
    try:
        doc = load_yaml_text(text)
    except YamlFileError as exc:
        raise LaunchError(f"{path}: {exc}") from None
    if cache is not None:
        if len(cache) > 1000:
            cache.clear()
        cache[key] = (text, doc)
    return doc


def read_definition(entry_point: str, wanted: str | None = None,
                    cache: Parsed | None = None) -> Definition:
    """The workflow YAML of an action, and which workflow in it to start (``cache``: the
    launcher's parsed files)."""
    if not entry_point:
        raise LaunchError("the action has no entry_point: a workflow YAML in its pack is "
                          "expected")
    path = Path(entry_point)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LaunchError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    doc = _parsed(path, text, cache)
    if not isinstance(doc, Mapping) or str(doc.get("version")) != "2.0":
        raise LaunchError(f"{path}: is not a Mistral v2 definition (version: '2.0' expected)")
    if isinstance(doc.get("workflows"), Mapping) and isinstance(doc.get("name"), str):
        book = str(doc["name"])
        names = [f"{book}.{name}" for name in doc["workflows"]]
        return Definition(text, _wanted(names, wanted, f"{book}.", str(path)), book)
    names = [str(k) for k, v in doc.items() if k != "version" and isinstance(v, Mapping)]
    if not names:
        raise LaunchError(f"{path}: defines no workflow")
    return Definition(text, _wanted(names, wanted, "", str(path)))


def workflow_input(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow's input: the action's parameters (not the runner's), plus ``context``."""
    values = {k: v for k, v in parameters.items()
              if k not in RUNNER_PARAMETERS and v is not None}
    extra = parameters.get("context")
    if isinstance(extra, Mapping):
        values.update(extra)
    return values


def engine_execution_id(platform_execution_id: str) -> str:
    """The engine's id of the workflow a platform execution launches (always the same)."""
    return str(uuid.uuid5(NAMESPACE, platform_execution_id))


# --- the credential the engine calls back with --------------------------------------------


def engine_credential(config: Config, db: Engine) -> str:
    """The API key the engine uses to call the platform (made once, kept in the data folder
    as ``engine_api_key``, mode 0600): a service key, so that the engine may say which user
    a child execution runs as."""
    return service_key(db, config.data_dir, "engine", ENGINE_KEY_FILE)


# --- the platform execution -----------------------------------------------------------------


def record_engine_id(db: Engine, execution_id: str, workflow_execution_id: str,
                     workflow_name: str) -> tuple[str | None, dict[str, Any]]:
    """Put the engine's id in ``context.mistral`` before the workflow starts; returns
    the execution's user (the workflow runs as that user) and its context as it was."""
    found = ts.record_engine_id(db, execution_id, workflow_execution_id, workflow_name)
    if found is None:
        raise LaunchError(f'execution "{execution_id}" cannot be found')
    return found


release_claim = ts.release_claim


# --- the engine's API -----------------------------------------------------------------------


def _fault(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, Mapping) and isinstance(body.get("faultstring"), str):
        return str(body["faultstring"])
    return response.text[:300]


def retryable(status: int) -> bool:
    """An HTTP status that says "not now" rather than "no"."""
    return status >= 500 or status in RETRYABLE_STATUS


class EngineClient:
    """The few calls of the engine's v2 API a launch makes (`auth`: the platform's
    service key and the user the workflow runs as, see ``engine_headers``).

    Each call either answers (a 2xx, or a definite 4xx as :class:`EngineRefused`) or
    raises :class:`EngineUnavailable`; :meth:`retrying` repeats a step until the deadline.
    """

    def __init__(self, base_url: str, http: httpx.AsyncClient,
                 headers: Mapping[str, str] | None = None,
                 request_timeout: float = REQUEST_TIMEOUT,
                 registered: Registered | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.auth = dict(headers or {})
        self.request_timeout = request_timeout
        # What this client's launcher registered already (None: nothing remembered).
        self.registered: Registered = {} if registered is None else registered

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        kwargs["headers"] = {**self.auth, **(kwargs.get("headers") or {})}
        try:
            response = await self.http.request(method, f"{self.base_url}{path}",
                                               timeout=self.request_timeout, **kwargs)
        except httpx.HTTPError as exc:
            # A connection that was never made carried no request: nothing happened.
            sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            raise EngineUnavailable(f"the engine at {self.base_url} cannot be reached "
                                    f"({type(exc).__name__}: {exc})", sent) from None
        if retryable(response.status_code):
            raise EngineUnavailable(f"the engine at {self.base_url} answered "
                                    f"HTTP {response.status_code}: {_fault(response)}", True)
        return response

    async def ensure_definition(self, definition: Definition, force: bool = False) -> None:
        """Register or update the definition (skipped when this process already did).
        Safe to repeat: an update (PUT) of what exists, else a create (POST), and a
        create that finds it created meanwhile (409) updates it."""
        name = definition.workbook or definition.workflow_name
        key = (self.base_url, name)
        digest = hashlib.sha256(definition.text.encode("utf-8")).hexdigest()
        if not force and self.registered.get(key) == digest:
            return
        path = "/v2/workbooks" if definition.workbook else "/v2/workflows"
        headers = {"content-type": "text/plain"}
        response = await self._call("PUT", path, content=definition.text, headers=headers)
        if response.status_code == 404:
            response = await self._call("POST", path, content=definition.text,
                                        headers=headers)
            if response.status_code == 409:
                response = await self._call("PUT", path, content=definition.text,
                                            headers=headers)
        if response.status_code >= 300:
            raise EngineRefused(f"the engine refused the definition of {name}: "
                                f"{_fault(response)}", response.status_code)
        self.registered[key] = digest

    async def start(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Start the workflow under the id in ``body`` (an id the engine knows already
        answers that execution: a repeated start starts nothing)."""
        response = await self._call("POST", "/v2/executions", json=dict(body))
        if response.status_code == 409 and body.get("id"):
            # Two starts with this id at once (a retry beside a request that was late):
            # the other one created it.
            found = await self.find(str(body["id"]))
            if found is not None:
                return found
        if response.status_code >= 300:
            raise EngineRefused(f"the engine did not start {body.get('workflow_name')}: "
                                f"HTTP {response.status_code}: {_fault(response)}",
                                response.status_code)
        started: dict[str, Any] = response.json()
        return started

    async def find(self, workflow_execution_id: str) -> dict[str, Any] | None:
        """The engine's workflow execution of that id, or None if it does not know it."""
        response = await self._call("GET", f"/v2/executions/{workflow_execution_id}")
        if response.status_code == 404:
            return None
        if response.status_code >= 300:
            raise EngineRefused(f"the engine did not answer about workflow execution "
                                f"{workflow_execution_id}: HTTP {response.status_code}: "
                                f"{_fault(response)}", response.status_code)
        found: dict[str, Any] = response.json()
        return found


async def retrying(step: Callable[[], Awaitable[T]], deadline: float, max_backoff: float,
                   what: str, execution_id: str) -> T:
    """``step()`` again and again while the engine is unavailable, with backoff, until
    ``deadline`` (event loop time); then its last EngineUnavailable. ``delivered`` of
    that error is true when any attempt may have reached the engine."""
    loop = asyncio.get_running_loop()
    delay = INITIAL_BACKOFF
    attempts = 0
    delivered = False
    waiting = WAITING.get()
    try:
        while True:
            try:
                return await step()
            except EngineUnavailable as exc:
                attempts += 1
                delivered = delivered or exc.delivered
                left = deadline - loop.time()
                if left <= 0:
                    raise EngineUnavailable(str(exc), delivered) from None
                if attempts == 1:
                    log.warning("[%s] %s: %s; trying again for up to %.0f s", execution_id,
                                what, exc, left)
                    if waiting is not None:
                        waiting(True)
                else:
                    log.debug("[%s] %s, attempt %d: %s", execution_id, what, attempts, exc)
                await asyncio.sleep(min(delay, left))
                delay = min(delay * 2, max_backoff)
    finally:
        if attempts and waiting is not None:
            waiting(False)


def start_body(request: RunRequest, definition: Definition, found: Settings,
               credential: str) -> dict[str, Any]:
    """The ``POST /v2/executions`` body for a platform execution."""
    execution_id = request.execution_id
    params: dict[str, Any] = {
        "env": {
            "st2_execution_id": execution_id,
            "st2_liveaction_id": execution_id,
            "st2_action_api_url": f"{found.api_url}/v1",
            wire.ENV_KEY: {
                "execution_id": execution_id,
                "callback_url": f"{found.api_url}{wire.RECEIVER_PATH}",
                "api_url": found.api_url,
                "credential": credential,
            },
        },
        "notify": [{"type": wire.SUBSCRIBER}],
    }
    task = request.parameters.get("task")
    if isinstance(task, str) and task:
        params["task_name"] = task
    wf_input = workflow_input(request.parameters)
    secret = sorted(n for n, spec in request.action.parameters.items()
                    if spec.get("secret") is True and n in wf_input)
    if secret:  # the engine shows these inputs masked, as the platform does
        params["env"][wire.ENV_KEY]["secret_input"] = secret
    return {
        "id": engine_execution_id(execution_id),
        "workflow_name": definition.workflow_name,
        "input": wf_input,
        "params": params,
        "description": f"{request.action.ref} (platform execution {execution_id})",
    }


def add_st2_context(body: dict[str, Any], request: RunRequest, found: Settings,
                    context: Mapping[str, Any]) -> None:
    """``env.__actions['st2.action'].st2_context`` as StackStorm 2.10's mistral-v2 runner
    set it: where the API is, the endpoint of action executions, the parent (this
    execution's id and context), the action's ``notify`` block and the tasks not to notify
    (``skip_notify_tasks``, the key that runner sent, and ``skip_notify`` as well).
    """
    api_url = f"{found.api_url}/v1"
    parent: dict[str, Any] = {"execution_id": request.execution_id}
    parent.update(context)  # as it was before this launch wrote its own `mistral` ids
    skip = request.parameters.get("skip_notify")
    st2_context = {
        "api_url": api_url,
        "endpoint": f"{api_url}/actionexecutions",
        "parent": parent,
        "notify": dict(getattr(request.action, "notify", None) or {}),
        "skip_notify": list(skip) if isinstance(skip, list) else [],
        "skip_notify_tasks": list(skip) if isinstance(skip, list) else [],
    }
    env = body["params"]["env"]
    actions = dict(env.get("__actions") or {})
    actions["st2.action"] = {"st2_context": st2_context}
    env["__actions"] = actions


track_launched = ts.track_launched


async def _start(client: EngineClient, definition: Definition, body: Mapping[str, Any],
                 found: Settings, execution_id: str) -> dict[str, Any]:
    """Register the definition, then start the workflow; each step waited out while the
    engine is unavailable (the same deadline for both)."""
    deadline = asyncio.get_running_loop().time() + found.retry_seconds

    async def register(force: bool = False) -> None:
        await retrying(lambda: client.ensure_definition(definition, force), deadline,
                       found.max_backoff, "registering the workflow", execution_id)

    async def start() -> dict[str, Any]:
        started: dict[str, Any] = await retrying(
            lambda: client.start(body), deadline, found.max_backoff,
            "starting the workflow", execution_id)
        return started

    try:
        await register()
    except EngineUnavailable as exc:
        raise EngineUnavailable(str(exc), False) from None  # no start was asked for
    try:
        return await start()
    except EngineRefused as exc:
        if exc.status != 404 or "not found" not in str(exc).lower():
            raise
    # The engine lost the definition (a new database): register it again, start again.
    try:
        await register(force=True)
    except EngineUnavailable as exc:
        raise EngineUnavailable(str(exc), False) from None  # the start was refused
    return await start()


async def _after_retries(client: EngineClient, exc: EngineUnavailable, found: Settings,
                         request: RunRequest, workflow_execution_id: str) -> RunOutcome:
    """The engine stayed unavailable for the whole retry time. If it knows the workflow,
    the results tracker follows it (reason ``launch-retry``); if it may yet (a start
    request may have reached it, and it cannot be asked, or a late request may still be
    on its way), the tracker finds out (reason ``launch``: the execution ends `abandoned`
    if the engine does not know the workflow after a grace); otherwise the launch fails,
    saying why."""
    execution_id = request.execution_id
    waited = f"{found.retry_seconds:g} s"
    try:
        known = await client.find(workflow_execution_id)
    except LaunchError:
        known = None
    if known is not None or exc.delivered:
        reason = TRACK_REASON if known is not None else ts.LAUNCH_REASON
        await asyncio.to_thread(track_launched, found.db, execution_id,
                                workflow_execution_id, reason)
        log.warning("[%s] the launch gave up after %s (%s), but workflow execution %s %s: "
                    "the results tracker follows it", execution_id, waited, exc,
                    workflow_execution_id,
                    "runs on the engine" if known is not None else "may have started")
        return RunOutcome(HANDED_OVER, {"tasks": [],
                                        "workflow_execution_id": workflow_execution_id})
    raise LaunchError(f"{exc}; gave up after trying for {waited} "
                      f"([runner] launch_retry_seconds)")


class Launcher:
    """The launches of one platform runner service: its settings and its caches (the
    definitions registered on the engine, the parsed workflow files). Built once by the
    runner role (:func:`levante.platform.service.runner_services`) and passed in."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registered: Registered = {}
        self.parsed: Parsed = {}
        self.clients = LoopClients()

    @classmethod
    def from_config(cls, config: Config, db: Engine) -> Launcher:
        return cls(Settings.from_config(config, db))

    def client(self, headers: Mapping[str, str]) -> EngineClient:
        found = self.settings
        return EngineClient(found.engine_url, self.clients.current(REQUEST_TIMEOUT), headers,
                            found.request_timeout, self.registered)

    async def launch(self, request: RunRequest) -> RunOutcome:
        """Start the workflow of ``request`` on the engine; the outcome is ``running``
        (handed over to the receiver) or ``failed`` with the reason."""
        return await _launch(self, request)


async def _launch(launcher: Launcher, request: RunRequest) -> RunOutcome:
    try:
        found = launcher.settings
        # The launch's reads and writes wait out a database that refuses writes or drops
        # its connections for a while (a launch that fails on one would end `failed`
        # while, for the release after the start, its workflow runs on the engine).
        limit, tag = faults.retry_timeout(found.config), f"[{request.execution_id}] "
        rerun = await faults.retry_writes_async(
            lambda: workflow_rerun.rerun_request(found.db, request.execution_id), limit,
            "reading the execution's context", log, tag)
        if rerun is not None:
            return await _rerun(launcher, request, *rerun)
        wanted = request.parameters.get("workflow")
        definition = read_definition(request.action.entry_point,
                                     wanted if isinstance(wanted, str) else None,
                                     launcher.parsed)
        credential = await faults.retry_writes_async(
            lambda: engine_credential(found.config, found.db), limit,
            "the engine credential", log, tag)
        body = start_body(request, definition, found, credential)
        user, context = await faults.retry_writes_async(
            lambda: record_engine_id(found.db, request.execution_id, body["id"],
                                     definition.workflow_name),
            limit, "the engine id", log, tag)
        add_st2_context(body, request, found, context)
        headers = await waited_engine_headers(found.config, found.db, log, user, tag)
        client = launcher.client(headers)
        try:
            started = await _start(client, definition, body, found, request.execution_id)
        except EngineUnavailable as exc:
            return await _after_retries(client, exc, found, request, body["id"])
        await faults.retry_writes_async(
            lambda: release_claim(found.db, request.execution_id), limit,
            "the hand-over to the engine", log, tag)
    except LaunchError as exc:
        log.warning("[%s] workflow %s not started: %s", request.execution_id,
                    request.action.ref, exc)
        return RunOutcome("failed", {"error": f"The workflow could not be started: {exc}",
                                     "tasks": []})
    log.info("[%s] workflow %s started on the engine as %s (%s)", request.execution_id,
             definition.workflow_name, started.get("id"), started.get("state"))
    return RunOutcome(HANDED_OVER, {"tasks": [], "workflow_execution_id": started.get("id")})


async def _rerun(launcher: Launcher, request: RunRequest, original_id: str,
                 tasks: list[str], reset: list[str]) -> RunOutcome:
    """Re-run tasks of the original's workflow execution (see
    :mod:`levante.platform.workflows.rerun`) instead of starting a new one."""
    try:
        found = launcher.settings
        limit, tag = faults.retry_timeout(found.config), f"[{request.execution_id}] "
        wf_id, user = await faults.retry_writes_async(
            lambda: workflow_rerun.original_workflow(found.db, original_id), limit,
            "reading the original execution", log, tag)
        headers = await waited_engine_headers(found.config, found.db, log, user, tag)
        client = launcher.client(headers)
        await workflow_rerun.rerun(client, found.db, request.execution_id, original_id,
                                   wf_id, tasks, reset)
        await faults.retry_writes_async(
            lambda: release_claim(found.db, request.execution_id), limit,
            "the hand-over to the engine", log, tag)
    except (workflow_rerun.RerunError, LaunchError) as exc:
        log.warning("[%s] tasks of %s not re-run: %s", request.execution_id, original_id, exc)
        return RunOutcome("failed", {"error": f"The tasks could not be re-run: {exc}",
                                     "tasks": []})
    return RunOutcome(HANDED_OVER, {"tasks": [], "workflow_execution_id": wf_id})
