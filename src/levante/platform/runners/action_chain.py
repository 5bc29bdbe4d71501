"""The ``action-chain`` runner: StackStorm's linear chain of actions.

The entry point is a YAML file with ``chain`` (nodes with ``name``, ``ref``, ``params``,
``on-success``, ``on-failure``, ``publish``), ``vars`` and ``default`` (else the first node).
Each node runs as a child execution of the chain (``context.chain.name`` names the node);
its ``params`` are Jinja rendered over the chain's parameters, ``vars``, what earlier nodes
published and their results (``{{ node.x }}``, ``{{ __results.node.x }}``).

The chain's progress is its children: at every (re)start the runner walks the chain again
over the children that exist, so a node that has a child is never run twice (a chain
resumed after a pause, or taken again after its runner died, goes on where it stopped).
While it waits for a child the chain holds no runner worker (see ``WAITING``). Between
nodes it honours ``pausing`` (it then stops, ``paused``; a resume requests it again) and
``canceling`` (the running child is canceled and the chain ends ``canceled``).

The chain ends with the status of the last node it ran (``failed`` for a node that failed,
timed out or was abandoned, unless ``on-failure`` goes on); its result is StackStorm's:
``tasks`` (one entry per node run) and, with ``display_published``, ``published``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from levante.platform.core import executions, store
from levante.platform.core.jinja_render import RenderError, render_value
from levante.platform.core.yaml_files import YamlFileError, read_yaml
from levante.platform.datastore import render as kv_render
from levante.platform.runners.base import OutputCallback, RunOutcome, RunRequest
from levante.platform.workflows.launch import WAITING

log = logging.getLogger("levante.platform.runner.chain")

# Set by the runner service for the task that runs a chain: its database.
DATABASE: ContextVar[Engine | None] = ContextVar("chain_database", default=None)
# Whether the runner lets actions use sudo (children are created as the API would).
ALLOW_SUDO: ContextVar[bool] = ContextVar("chain_allow_sudo", default=False)

# A chain looks at its running node this often: at first quickly (most nodes are short),
# then less often, up to POLL_MAX_SECONDS (a long node costs few reads).
POLL_SECONDS = 0.05
POLL_MAX_SECONDS = 0.5
CANCEL_WAIT_SECONDS = 10.0  # a canceled chain waits this long for its node to end
FAILED_STATES = frozenset({"failed", "timeout", "abandoned"})
DONE = frozenset({"succeeded", "failed", "timeout", "abandoned", "canceled"})
# A node in these statuses stops the chain, paused: its own pause, or an inquiry
# (core.ask) that waits for an answer (the answer resumes the chain).
HALTED = frozenset({"paused", "pending"})


class ChainError(ValueError):
    """A chain file that cannot run; the message names the file and why."""


@dataclass(frozen=True)
class Node:
    name: str
    ref: str
    params: dict[str, Any]
    on_success: str | None
    on_failure: str | None
    publish: dict[str, Any]
    notify: dict[str, Any] = field(default_factory=dict)  # the child's (StackStorm's)


@dataclass
class Chain:
    nodes: dict[str, Node]
    default: str
    vars: dict[str, Any] = field(default_factory=dict)


def _link(raw: dict[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ChainError(f"{where}: '{key}' must be the name of a node")
    return value


def parse_chain(data: Any, where: str) -> Chain:
    """The chain of a parsed entry point file; ChainError naming what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("chain"), list) \
            or not data["chain"]:
        raise ChainError(f"{where}: 'chain' must be a non-empty list of nodes")
    nodes: dict[str, Node] = {}
    for index, raw in enumerate(data["chain"]):
        at = f"{where}: chain[{index}]"
        if not isinstance(raw, dict):
            raise ChainError(f"{at} must be an object")
        name, ref = raw.get("name"), raw.get("ref")
        if not isinstance(name, str) or not name:
            raise ChainError(f"{at}: 'name' is required")
        if not isinstance(ref, str) or not ref:
            raise ChainError(f"{at} ({name}): 'ref' is required")
        if name in nodes:
            raise ChainError(f"{at}: node name {name!r} is used twice")
        params = raw.get("params", raw.get("parameters")) or {}
        publish = raw.get("publish") or {}
        if not isinstance(params, dict):
            raise ChainError(f"{at} ({name}): 'params' must be an object")
        if not isinstance(publish, dict):
            raise ChainError(f"{at} ({name}): 'publish' must be an object")
        notify = raw.get("notify") or {}
        if not isinstance(notify, dict):
            raise ChainError(f"{at} ({name}): 'notify' must be a mapping of on-complete, "
                             "on-success, on-failure")
        nodes[name] = Node(name, ref, params, _link(raw, "on-success", at),
                           _link(raw, "on-failure", at), publish, notify)
    for node in nodes.values():
        for target in (node.on_success, node.on_failure):
            if target is not None and target not in nodes:
                raise ChainError(f"{where}: node {node.name!r} links to {target!r}, "
                                 "which is not a node of the chain")
    default = data.get("default") or next(iter(nodes))
    if default not in nodes:
        raise ChainError(f"{where}: 'default' names {default!r}, which is not a node")
    chain_vars = data.get("vars") or {}
    if not isinstance(chain_vars, dict):
        raise ChainError(f"{where}: 'vars' must be an object")
    return Chain(nodes, default, chain_vars)


def child_context(node: Node, skip_notify: Any) -> dict[str, Any]:
    """A child's context: its node's name, and the node's ``notify`` block unless the
    chain's ``skip_notify`` names the node (the child's end records its notify triggers;
    one without a block of its own inherits the chain's, see
    :mod:`levante.platform.triggers.execution_ends`)."""
    context: dict[str, Any] = {"chain": {"name": node.name}}
    skipped = isinstance(skip_notify, list) and node.name in skip_notify
    if node.notify and not skipped:
        context["notify"] = node.notify
    return context


def load_chain(entry_point: str) -> Chain:
    if not entry_point:
        raise ChainError("the action has no entry_point: a chain YAML in its pack is needed")
    path = Path(entry_point)
    try:
        data = read_yaml(path)
    except YamlFileError as exc:
        raise ChainError(f"{path.name}: {exc}") from None
    return parse_chain(data, path.name)


def _task(node: str, child: dict[str, Any]) -> dict[str, Any]:

    return {
        "id": node,
        "name": node,
        "execution_id": child["id"],
        "state": child["status"],
        "result": child["result"] if child["result"] is not None else {},
        "created_at": store.iso(child["start_timestamp"]),
        "updated_at": store.iso(child["end_timestamp"] or child["start_timestamp"]),
    }


class _Walk:
    """One pass over the chain: the context Jinja sees and the tasks run so far."""

    def __init__(self, chain: Chain, parameters: dict[str, Any],
                 action_context: dict[str, Any], names: dict[str, Any]) -> None:
        self.chain = chain
        self.results: dict[str, Any] = {}
        self.published: dict[str, Any] = {}
        self.tasks: list[dict[str, Any]] = []
        self.base: dict[str, Any] = {**names, **parameters, "action_context": action_context}
        self.vars: dict[str, Any] = {}
        rendered_vars: dict[str, Any] = {}
        for key, value in chain.vars.items():
            rendered_vars[key] = render_value(value, {**self.base, **rendered_vars})
        self.vars = rendered_vars

    def context(self) -> dict[str, Any]:
        return {**self.base, **self.vars, **self.published, **self.results,
                "__results": dict(self.results)}

    def record(self, node: Node, child: dict[str, Any]) -> None:
        self.tasks.append(_task(node.name, child))
        self.results[node.name] = child["result"] if child["result"] is not None else {}
        if node.publish and child["status"] not in HALTED:
            ctx = self.context()
            for key, value in node.publish.items():
                self.published[key] = render_value(value, ctx)
                ctx[key] = self.published[key]


def _result(walk: _Walk | None, display_published: bool,
            error: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"tasks": list(walk.tasks) if walk else []}
    if display_published:
        body["published"] = dict(walk.published) if walk else {}
    if error:
        body["error"] = error
    return body


async def run_chain(request: RunRequest, on_output: OutputCallback) -> RunOutcome:
    """Run (or go on with) the chain; see the module's description."""

    del on_output
    db = DATABASE.get()
    if db is None:
        return RunOutcome("failed", {"error": "the action-chain runner needs the platform's "
                                              "database (it runs in the runner service)"})
    display = request.parameters.get("display_published", True) is not False
    try:
        chain = load_chain(request.action.entry_point)
    except ChainError as exc:
        return RunOutcome("failed", {"error": f"Failed to load the chain: {exc}", "tasks": []})
    own = store.get_execution(db, request.execution_id) or {}
    own_context = dict(own.get("context") or {})
    user = str(own.get("user") or own_context.get("user") or "stanley")
    params = {k: v for k, v in request.parameters.items()
              if k not in ("skip_notify", "display_published")}
    action_context = {"execution_id": request.execution_id, "user": user,
                      "pack": own_context.get("pack"), **{
                          k: v for k, v in own_context.items() if k in ("parent", "api_user")}}
    try:
        walk = _Walk(chain, params, action_context, kv_render.names(db, user))
    except RenderError as exc:
        return RunOutcome("failed", _result(
            None, display, f"Failed initializing ``vars`` in chain. {exc}"))
    # Earlier runs of this chain (before a pause or a restart): its children, oldest first.
    done_before = [c for c in store.child_executions(db, request.execution_id)
                   if isinstance(c.get("context"), dict)
                   and isinstance(c["context"].get("chain"), dict)]
    current: Node | None = chain.nodes[chain.default]
    status = "succeeded"
    while current is not None:
        node = current
        child = done_before.pop(0) if done_before else None
        if child is not None and child["context"]["chain"].get("name") != node.name:
            return RunOutcome("failed", _result(
                walk, display, f"The chain's children do not follow the chain any more "
                               f"(node {node.name!r} expected, execution {child['id']} ran "
                               f"{child['context']['chain'].get('name')!r}): was the chain "
                               "file changed while it ran?"))
        if child is None:
            # Between nodes: a pause or a cancel asked meanwhile is honoured here.
            now_status = (store.statuses_of(db, [request.execution_id])
                          .get(request.execution_id))
            if now_status == "pausing":
                return _pause(db, request.execution_id, walk, display)
            try:
                node_params = render_value(node.params, walk.context())
            except RenderError as exc:
                return RunOutcome("failed", _result(
                    walk, display, f'Failed to run task "{node.name}". Parameter rendering '
                                   f"failed. {exc}"))
            try:
                child = executions.create_execution(
                    db, node.ref, node_params, user, parent=request.execution_id,
                    context=child_context(node, request.parameters.get("skip_notify")),
                    allow_sudo=ALLOW_SUDO.get())
            except executions.NotFound:
                return RunOutcome("failed", _result(
                    walk, display, f'Failed to run task "{node.name}". Action with '
                                   f'reference "{node.ref}" doesn\'t exist.'))
            except (executions.Refused, ValueError) as exc:
                return RunOutcome("failed", _result(
                    walk, display, f'Failed to run task "{node.name}". {exc}'))
        elif child["status"] == "paused":
            # The chain paused with this node paused: the resume resumes it.
            with contextlib.suppress(Exception):
                executions.set_status(db, child["id"], "resuming")
        try:
            child = await _wait(db, child["id"], chain_id=request.execution_id)
        except asyncio.CancelledError:
            own_status = (store.statuses_of(db, [request.execution_id])
                          .get(request.execution_id))
            if own_status != "canceling":
                raise  # the runner stops: the chain is taken again later (see above)
            # The chain is canceled: so is its running node, and the chain ends canceled
            # with the tasks so far.
            with contextlib.suppress(Exception):
                executions.request_cancel(db, child["id"])
            child = await _wait(db, child["id"], CANCEL_WAIT_SECONDS)
            walk.tasks.append(_task(node.name, child))
            return RunOutcome("canceled", _result(walk, display))
        try:
            walk.record(node, child)
        except RenderError as exc:
            return RunOutcome("failed", _result(
                walk, display, f'Failed to publish variables of task "{node.name}": {exc}'))
        if child["status"] == "succeeded":
            status, current = "succeeded", (chain.nodes[node.on_success]
                                            if node.on_success else None)
        elif child["status"] in FAILED_STATES:
            status = "timeout" if child["status"] == "timeout" else "failed"
            current = chain.nodes[node.on_failure] if node.on_failure else None
        elif child["status"] in HALTED:  # the node paused or asks: the chain pauses
            return _pause(db, request.execution_id, walk, display)
        else:  # canceled
            status, current = "canceled", None
    return RunOutcome(status, _result(walk, display))  # type: ignore[arg-type]


def _pause(db: Engine, execution_id: str, walk: _Walk, display: bool) -> RunOutcome:

    if store.transition(db, execution_id, ["pausing", "running"], "paused",
                        {"result": _result(walk, display), "lease_until": None,
                         "claimed_by": None}) is None:
        return RunOutcome("canceled", _result(walk, display))  # canceled meanwhile
    # "running": the runner service records nothing more; the resume requests it again.
    return RunOutcome("running", None)


async def _wait(db: Engine, child_id: str, limit: float | None = None,
                chain_id: str | None = None) -> dict[str, Any]:
    """The child once it ended or paused (or as it is after ``limit`` seconds); the chain
    holds no worker meanwhile. A pause of the chain (``chain_id``) pauses a workflow
    child."""

    waiting = WAITING.get()
    if waiting is not None:
        waiting(True)
    deadline = None if limit is None else asyncio.get_running_loop().time() + limit
    paused_child = False
    delay = POLL_SECONDS
    try:
        while True:
            ids = [child_id] if chain_id is None else [child_id, chain_id]
            statuses = store.statuses_of(db, ids)
            status = statuses.get(child_id)
            if status is None:
                raise RuntimeError(f"child execution {child_id} disappeared")
            if status in DONE or status in HALTED or (
                    deadline is not None and asyncio.get_running_loop().time() > deadline):
                row = store.get_execution(db, child_id)
                if row is None:
                    raise RuntimeError(f"child execution {child_id} disappeared")
                return row
            if chain_id is not None and statuses.get(chain_id) == "pausing" \
                    and not paused_child and status == "running":
                paused_child = True
                with contextlib.suppress(executions.Refused, executions.NotFound):
                    # Only workflows pause; another action runs to its end.
                    executions.set_status(db, child_id, "pausing")
            await asyncio.sleep(delay)
            delay = min(delay * 1.25, POLL_MAX_SECONDS)
    finally:
        if waiting is not None:
            waiting(False)
