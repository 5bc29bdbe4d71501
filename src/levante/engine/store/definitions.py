"""Every write and keyed read of the engine's definitions: workflows, workbooks, ad-hoc
actions, environments and cron triggers.

Functions take an open SQLAlchemy connection inside the caller's transaction and never
commit. Rows come back as plain dicts (datetimes as aware UTC values; JSON columns decoded).
The engine, which needs a spec at every step, hands its `ParsedSpecs` (parsed specs keyed
by (id, updated_at)) to the reads of specs, so that it parses a definition once per change.

Every definition row records its `language`; parsing, the stored text and display, and
rebuilding a graph from its stored JSON are asked of that language (see
`levante.engine.languages`), never guessed here. A write is given the language itself or
its name (a built-in one); a read of stored specs the engine's `Languages`.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from croniter import croniter
from sqlalchemy import Connection, Row, Table, and_, delete, insert, select, update

from levante.engine import actions
from levante.engine.definitions_models import (
    DEFAULT_PROJECT,
    action_definitions,
    cron_triggers,
    environments,
    workbooks,
    workflow_definitions,
)
from levante.engine.languages.base import (
    DEFAULT_LANGUAGE,
    ActionDefinition,
    WorkbookDefinition,
    WorkflowDefinition,
    WorkflowLanguage,
)
from levante.engine.languages.graph import AdHocAction, WorkflowGraph
from levante.engine.languages.registry import BUILTIN_LANGUAGES, Languages, UnknownLanguage
from levante.engine.models import workflow_executions
from levante.engine.platform_actions import is_platform_ref

SCOPES = ("private", "public")
_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


class DefinitionError(Exception):
    """Base of the store's errors; the message is safe to show to the caller."""


class NotFound(DefinitionError):
    """No object with that name or id."""


class DuplicateError(DefinitionError):
    """An object with that name already exists."""


class InvalidRequest(DefinitionError):
    """The request cannot be done as asked (bad scope, object in use, bad pattern...)."""


# --- small helpers -------------------------------------------------------------------------

def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC datetime from whatever the database returned (SQLite gives naive)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def is_uuid(value: str) -> bool:
    return bool(_UUID_RE.match(value))


def new_id() -> str:
    return str(uuid.uuid4())


def row_dict(row: Row[Any] | Mapping[str, Any]) -> dict[str, Any]:
    data = dict(row._mapping) if isinstance(row, Row) else dict(row)
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = as_utc(value)
    return data


def check_name(name: Any, what: str, limit: int = 255) -> str:
    """A name that every database can store: text, not empty, short, no NUL."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest(f"{what} needs a name")
    if len(name) > limit:
        raise InvalidRequest(f"{what} name is longer than {limit} characters")
    if "\x00" in name:
        raise InvalidRequest(f"{what} name holds a NUL character")
    return name


def check_namespace(namespace: str | None) -> str:
    if not namespace:
        return ""
    return check_name(namespace, "a namespace")


def _check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise InvalidRequest(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    return scope


Lang = str | WorkflowLanguage | None  # a language, or its name (None: the default one)


def language(lang: Lang, languages: Languages = BUILTIN_LANGUAGES) -> WorkflowLanguage:
    """The workflow language `lang`, or the one of `languages` it names (the default one
    for None); InvalidRequest."""
    if lang is not None and not isinstance(lang, str):
        return lang
    try:
        return languages.get(lang or DEFAULT_LANGUAGE)
    except UnknownLanguage as exc:
        raise InvalidRequest(str(exc)) from None


def _checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- the spec cache ------------------------------------------------------------------------

class ParsedSpecs:
    """A bounded map (id, updated_at) -> parsed spec, and the languages that parse them:
    the engine runtime's (on its `StepShared`, made with the languages of its settings),
    so two runtimes (two tests) share nothing."""

    def __init__(self, languages: Languages = BUILTIN_LANGUAGES, size: int = 2048) -> None:
        self.languages = languages
        self._size = size
        self._data: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> Any:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: tuple[str, str], value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def _cache_key(row: Mapping[str, Any]) -> tuple[str, str]:
    stamp = as_utc(row.get("updated_at") or row.get("created_at"))
    return (str(row["id"]), stamp.isoformat() if stamp else "")


# --- workflows -----------------------------------------------------------------------------

def parse_workflows(text: str, lang: Lang = None) -> list[WorkflowDefinition]:
    """Validate a workflows text in language `lang`; raises the ValidationError."""
    return language(lang).parse_workflows(text)


def _workflow_values(found: WorkflowDefinition, lang: str) -> dict[str, Any]:
    """Columns of a workflow definition row, as its language shows them."""
    return {
        "name": found.name,
        "definition": found.text,
        "spec": found.graph.to_dict(),
        "input": found.input,
        "tags": list(found.tags),
        "language": lang,
        "checksum": _checksum(found.text),
    }


def _find_by_name(
    conn: Connection, table: Table, name: str, namespace: str, project_id: str = DEFAULT_PROJECT
) -> dict[str, Any] | None:
    row = conn.execute(
        select(table).where(
            table.c.name == name,
            table.c.namespace == namespace,
            table.c.project_id == project_id,
        )
    ).first()
    return row_dict(row) if row is not None else None


def _get_by_id(conn: Connection, table: Table, ident: str) -> dict[str, Any] | None:
    row = conn.execute(select(table).where(table.c.id == ident)).first()
    return row_dict(row) if row is not None else None


def create_workflows(
    conn: Connection,
    text: str,
    namespace: str = "",
    scope: str = "private",
    project_id: str = DEFAULT_PROJECT,
    lang: Lang = None,
) -> list[dict[str, Any]]:
    """Register every workflow of `text` (in language `lang`); refuses (DuplicateError)
    if one exists."""
    _check_scope(scope)
    namespace = check_namespace(namespace)
    chosen = language(lang)
    lang = chosen.name
    found = chosen.parse_workflows(text)
    check_references(conn, [f.graph for f in found], namespace, lang=chosen)
    now = utcnow()
    created: list[dict[str, Any]] = []
    for one in found:
        name = check_name(one.name, "a workflow")
        if _find_by_name(conn, workflow_definitions, name, namespace, project_id):
            where = f" in namespace {namespace!r}" if namespace else ""
            raise DuplicateError(f"Duplicate entry for WorkflowDefinition: workflow {name!r}"
                                 f"{where} already exists")
        values = _workflow_values(one, lang)
        values.update(
            id=new_id(), namespace=namespace, scope=scope, project_id=project_id,
            is_system=False, workbook_name=None, created_at=now, updated_at=None,
        )
        conn.execute(insert(workflow_definitions).values(**values))
        created.append(values)
    return created


def update_workflows(
    conn: Connection,
    text: str,
    namespace: str = "",
    scope: str = "private",
    identifier: str | None = None,
    project_id: str = DEFAULT_PROJECT,
    lang: Lang = None,
) -> list[dict[str, Any]]:
    """Replace the definitions of the workflows in `text` (each must exist: NotFound).

    With `identifier` (an id), the text must hold exactly that one workflow. The rows take
    the language `lang` the text is written in.
    """
    _check_scope(scope)
    namespace = check_namespace(namespace)
    chosen = language(lang)
    lang = chosen.name
    found = chosen.parse_workflows(text)
    if identifier is not None and len(found) != 1:
        raise InvalidRequest(
            "the definition must contain exactly one workflow when it is updated by id"
        )
    check_references(conn, [f.graph for f in found], namespace, lang=chosen)
    now = utcnow()
    updated: list[dict[str, Any]] = []
    for one in found:
        name = one.name
        if identifier is not None:
            existing = _get_by_id(conn, workflow_definitions, identifier)
            if existing is None:
                raise NotFound(f"Workflow not found [id={identifier}]")
        else:
            existing = _find_by_name(conn, workflow_definitions, name, namespace, project_id)
            if existing is None:
                raise NotFound(f"Workflow not found [name={name}, namespace={namespace}]")
        if existing["is_system"]:
            raise InvalidRequest(f"Attempt to modify a system workflow: {existing['name']}")
        if identifier is not None and name != existing["name"]:
            clash = _find_by_name(conn, workflow_definitions, name, existing["namespace"],
                                  project_id)
            if clash is not None:
                raise DuplicateError(
                    f"Duplicate entry for WorkflowDefinition: workflow {name!r} already exists"
                )
        if scope == "private" and existing["scope"] == "public":
            _ensure_not_used_by_triggers(conn, existing["id"], "change the scope of")
        values = _workflow_values(one, lang)
        values.update(scope=scope, updated_at=now)
        conn.execute(
            update(workflow_definitions)
            .where(workflow_definitions.c.id == existing["id"])
            .values(**values)
        )
        updated.append({**existing, **values})
    return updated


def check_references(
    conn: Connection,
    specs: Sequence[WorkflowGraph],
    namespace: str = "",
    local_actions: Iterable[str] = (),
    lang: Lang = None,
) -> None:
    """Refuse (the language's ValidationError) a workflow whose task names an action or a
    sub-workflow that cannot exist.

    An action exists if it is standard, ad-hoc (in `local_actions`, the workbook's own, or
    stored), or may be a platform action (`pack.name`, see `platform_actions.is_platform_ref`:
    the platform, not the engine, knows those). A sub-workflow exists if it is in the same
    text or stored, looked up as the runtime will (namespace, then the default one).
    """

    system = _system_action_names()
    local = set(local_actions)
    texts = {spec.name for spec in specs}
    check = language(lang).check_references

    def action_exists(name: str) -> bool:
        if name in system or name in local or is_platform_ref(name):
            return True
        try:
            get_action(conn, name, namespace)
        except NotFound:
            return False
        return True

    def workflow_exists(name: str) -> bool:
        return name in texts or _lookup_workflow(conn, name, namespace) is not None

    for spec in specs:
        check(spec, action_exists, workflow_exists)


def validate_workflows(
    conn: Connection, text: str, namespace: str = "", lang: Lang = None
) -> list[WorkflowDefinition]:
    """What creating the workflows of `text` would check, without storing them."""
    found = parse_workflows(text, lang)
    check_references(conn, [f.graph for f in found], check_namespace(namespace), lang=lang)
    return found


def validate_workbook(
    conn: Connection, text: str, namespace: str = "", lang: Lang = None
) -> WorkbookDefinition:
    """What creating the workbook `text` would check, without storing it."""
    book = parse_workbook(text, lang)
    check_references(conn, [w.graph for w in book.workflows], check_namespace(namespace),
                     (a.name for a in book.actions), lang=lang)
    return book


def get_workflow(
    conn: Connection, identifier: str, namespace: str = ""
) -> dict[str, Any]:
    """A workflow by id, or by name in `namespace` (then in the default namespace)."""
    row = _lookup_workflow(conn, identifier, namespace)
    if row is None:
        shown = f", namespace={namespace}" if namespace else ""
        raise NotFound(f"Workflow not found [workflow_identifier={identifier}{shown}]")
    return row


def _lookup_workflow(conn: Connection, identifier: str, namespace: str) -> dict[str, Any] | None:
    if is_uuid(identifier):
        row = _get_by_id(conn, workflow_definitions, identifier)
        if row is not None:
            return row
    row = _find_by_name(conn, workflow_definitions, identifier, namespace or "")
    if row is None and namespace:
        row = _find_by_name(conn, workflow_definitions, identifier, "")
    return row


def _spec_from_row(row: Mapping[str, Any], specs: ParsedSpecs) -> WorkflowGraph:
    """The graph of a workflow row: rebuilt from its stored JSON by the row's language
    (parsed again from its text if that JSON is unreadable), kept in `specs` per change."""
    key = _cache_key(row)
    cached = specs.get(key)
    if cached is not None:
        return cached
    lang = language(row.get("language"), specs.languages)
    spec: WorkflowGraph | None = None
    if row.get("spec"):
        try:
            spec = lang.load_workflow(row["spec"])
        except (KeyError, TypeError, ValueError):
            spec = None
    if spec is None:
        found = lang.parse_workflows(row["definition"])
        spec = next((f.graph for f in found if f.name == row["name"]), found[0].graph)
    specs.put(key, spec)
    return spec


_HEAD_COLUMNS = [
    c for c in workflow_definitions.c if c.name not in ("definition", "spec")
]


def get_workflow_spec(
    conn: Connection, identifier: str, namespace: str = "", specs: ParsedSpecs | None = None
) -> tuple[dict[str, Any], WorkflowGraph]:
    """(workflow row without its text, its graph), by id or name; NotFound.

    The row is read without the definition and spec columns; the spec comes from `specs`
    (the engine's; without it, the built-in languages parse it each time) when the row
    has not changed since it was parsed.
    """
    if specs is None:
        specs = ParsedSpecs()  # (a cache of this call alone: parsed each time)
    row = None
    if is_uuid(identifier):
        found = conn.execute(
            select(*_HEAD_COLUMNS).where(workflow_definitions.c.id == identifier)
        ).first()
        row = row_dict(found) if found is not None else None
    if row is None:
        for ns in dict.fromkeys([namespace or "", ""]):
            found = conn.execute(
                select(*_HEAD_COLUMNS).where(
                    workflow_definitions.c.name == identifier,
                    workflow_definitions.c.namespace == ns,
                    workflow_definitions.c.project_id == DEFAULT_PROJECT,
                )
            ).first()
            if found is not None:
                row = row_dict(found)
                break
    if row is None:
        shown = f", namespace={namespace}" if namespace else ""
        raise NotFound(f"Workflow not found [workflow_identifier={identifier}{shown}]")
    cached = specs.get(_cache_key(row))
    if cached is not None:
        return row, cached
    full = _get_by_id(conn, workflow_definitions, row["id"])
    assert full is not None
    return row, _spec_from_row(full, specs)


def delete_workflow(conn: Connection, identifier: str, namespace: str = "") -> None:
    row = _lookup_workflow_exact(conn, identifier, namespace)
    if row is None:
        raise NotFound(f"Workflow not found [workflow_identifier={identifier}]")
    if row["is_system"]:
        raise InvalidRequest(f"Attempt to delete a system workflow: {row['name']}")
    _ensure_not_used_by_triggers(conn, row["id"], "delete")
    conn.execute(delete(workflow_definitions).where(workflow_definitions.c.id == row["id"]))


def _lookup_workflow_exact(
    conn: Connection, identifier: str, namespace: str
) -> dict[str, Any] | None:
    if is_uuid(identifier):
        row = _get_by_id(conn, workflow_definitions, identifier)
        if row is not None:
            return row
    return _find_by_name(conn, workflow_definitions, identifier, namespace or "")


def _ensure_not_used_by_triggers(conn: Connection, workflow_id: str, verb: str) -> None:
    names = conn.execute(
        select(cron_triggers.c.name).where(cron_triggers.c.workflow_id == workflow_id)
    ).scalars().all()
    if names:
        raise InvalidRequest(
            f"Can't {verb} workflow that has cron triggers associated: {', '.join(names)}"
        )


# --- ad-hoc actions ------------------------------------------------------------------------

def parse_actions(text: str, lang: Lang = None) -> list[ActionDefinition]:
    """Validate an ad-hoc actions text in language `lang`; raises the ValidationError."""
    return language(lang).parse_actions(text)


def _action_values(found: ActionDefinition, lang: str) -> dict[str, Any]:
    """Columns of an ad-hoc action row, as its language shows them."""
    return {
        "name": found.name,
        "definition": found.text,
        "spec": found.action.to_dict(),
        "input": found.input,
        "tags": list(found.tags),
        "description": found.description,
        "language": lang,
    }


def _system_action_names() -> set[str]:
    return {action.name for action in actions.list_actions()}


def create_actions(
    conn: Connection,
    text: str,
    namespace: str = "",
    scope: str = "private",
    project_id: str = DEFAULT_PROJECT,
    lang: Lang = None,
) -> list[dict[str, Any]]:
    _check_scope(scope)
    namespace = check_namespace(namespace)
    chosen = language(lang)
    lang = chosen.name
    found = chosen.parse_actions(text)
    system = _system_action_names()
    now = utcnow()
    created: list[dict[str, Any]] = []
    for one in found:
        name = check_name(one.name, "an action")
        if name in system or _find_by_name(conn, action_definitions, name, namespace,
                                           project_id):
            raise DuplicateError(
                f"Duplicate entry for ActionDefinition: action {name!r} already exists"
            )
        values = _action_values(one, lang)
        values.update(
            id=new_id(), namespace=namespace, scope=scope, project_id=project_id,
            is_system=False, workbook_name=None, created_at=now, updated_at=None,
        )
        conn.execute(insert(action_definitions).values(**values))
        created.append(values)
    return created


def update_actions(
    conn: Connection,
    text: str,
    namespace: str = "",
    scope: str = "private",
    identifier: str | None = None,
    project_id: str = DEFAULT_PROJECT,
    lang: Lang = None,
) -> list[dict[str, Any]]:
    _check_scope(scope)
    namespace = check_namespace(namespace)
    chosen = language(lang)
    lang = chosen.name
    found = chosen.parse_actions(text)
    if identifier is not None and len(found) != 1:
        raise InvalidRequest(
            "the definition must contain exactly one action when it is updated by id"
        )
    now = utcnow()
    updated: list[dict[str, Any]] = []
    for one in found:
        name = one.name
        if identifier is not None:
            existing = _get_by_id(conn, action_definitions, identifier)
        else:
            existing = _find_by_name(conn, action_definitions, name, namespace, project_id)
        if existing is None:
            raise NotFound(f"Action not found [name={identifier or name}]")
        values = _action_values(one, lang)
        values.update(scope=scope, updated_at=now)
        conn.execute(
            update(action_definitions)
            .where(action_definitions.c.id == existing["id"])
            .values(**values)
        )
        updated.append({**existing, **values})
    return updated


def get_action(conn: Connection, identifier: str, namespace: str = "") -> dict[str, Any]:
    """An ad-hoc action by id or name; NotFound."""
    row = None
    if is_uuid(identifier):
        row = _get_by_id(conn, action_definitions, identifier)
    if row is None:
        row = _find_by_name(conn, action_definitions, identifier, namespace or "")
    if row is None and namespace:
        row = _find_by_name(conn, action_definitions, identifier, "")
    if row is None:
        raise NotFound(f"Action not found [action_identifier={identifier}]")
    return row


def get_adhoc_action(
    conn: Connection, name: str, namespace: str = "", specs: ParsedSpecs | None = None
) -> tuple[dict[str, Any], AdHocAction] | None:
    """(row, parsed action) of the ad-hoc action `name`, or None if there is none (the
    action parsed as `get_workflow_spec` parses a workflow)."""
    if specs is None:
        specs = ParsedSpecs()  # (a cache of this call alone: parsed each time)
    try:
        row = get_action(conn, name, namespace)
    except NotFound:
        return None
    stamp = _cache_key(row)
    key = ("action:" + stamp[0], stamp[1])
    cached = specs.get(key)
    if cached is not None:
        return row, cached
    lang = language(row.get("language"), specs.languages)
    spec: AdHocAction | None = None
    if row.get("spec"):
        try:
            spec = lang.load_action(row["spec"])
        except (KeyError, TypeError, ValueError):
            spec = None
    if spec is None:
        found = lang.parse_actions(row["definition"])
        spec = next((f.action for f in found if f.name.endswith(_short(row["name"]))),
                    found[0].action)
    specs.put(key, spec)
    return row, spec


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def delete_action(conn: Connection, identifier: str, namespace: str = "") -> None:
    row = None
    if is_uuid(identifier):
        row = _get_by_id(conn, action_definitions, identifier)
    if row is None:
        row = _find_by_name(conn, action_definitions, identifier, namespace or "")
    if row is None:
        if identifier in _system_action_names():
            raise InvalidRequest(f"Attempt to delete a system action: {identifier}")
        raise NotFound(f"Action not found [action_identifier={identifier}]")
    if row["is_system"]:
        raise InvalidRequest(f"Attempt to delete a system action: {identifier}")
    conn.execute(delete(action_definitions).where(action_definitions.c.id == row["id"]))


# --- workbooks -----------------------------------------------------------------------------

def parse_workbook(text: str, lang: Lang = None) -> WorkbookDefinition:
    """Validate a workbook text in language `lang`; raises the ValidationError."""
    book = language(lang).parse_workbook(text)
    if not book.name:
        raise InvalidRequest("the workbook has no name")
    return book


def _write_workbook_members(
    conn: Connection,
    book: WorkbookDefinition,
    lang: str,
    namespace: str,
    scope: str,
    project_id: str,
    now: datetime,
) -> None:
    """Create or update the workbook's workflows and actions; drop those it no longer has."""
    wb_name = book.name
    keep_wfs: set[str] = set()
    for wf in book.workflows:
        keep_wfs.add(wf.name)
        _upsert_member(conn, workflow_definitions, wf.name, wb_name, _workflow_values(wf, lang),
                       namespace, scope, project_id, now)
    keep_actions: set[str] = set()
    for action in book.actions:
        keep_actions.add(action.name)
        _upsert_member(conn, action_definitions, action.name, wb_name,
                       _action_values(action, lang), namespace, scope, project_id, now)
    for table, keep in ((workflow_definitions, keep_wfs), (action_definitions, keep_actions)):
        stale = conn.execute(
            select(table.c.id, table.c.name).where(
                table.c.workbook_name == wb_name,
                table.c.namespace == namespace,
                table.c.project_id == project_id,
            )
        ).all()
        for ident, name in stale:
            if name not in keep:
                if table is workflow_definitions:
                    _ensure_not_used_by_triggers(conn, ident, "delete")
                conn.execute(delete(table).where(table.c.id == ident))


def _upsert_member(
    conn: Connection,
    table: Table,
    full: str,
    wb_name: str,
    values: dict[str, Any],
    namespace: str,
    scope: str,
    project_id: str,
    now: datetime,
) -> None:
    existing = _find_by_name(conn, table, full, namespace, project_id)
    if existing is not None and existing.get("workbook_name") != wb_name:
        kind = "WorkflowDefinition" if table is workflow_definitions else "ActionDefinition"
        raise DuplicateError(f"Duplicate entry for {kind}: {full!r} already exists")
    if existing is None:
        values.update(
            id=new_id(), namespace=namespace, scope=scope, project_id=project_id,
            is_system=False, workbook_name=wb_name, created_at=now, updated_at=None,
        )
        conn.execute(insert(table).values(**values))
    else:
        values.update(scope=scope, updated_at=now)
        conn.execute(update(table).where(table.c.id == existing["id"]).values(**values))


def create_workbook(
    conn: Connection,
    text: str,
    namespace: str = "",
    scope: str = "private",
    project_id: str = DEFAULT_PROJECT,
    lang: Lang = None,
) -> dict[str, Any]:
    """Register a workbook and its workflows and actions as '<workbook>.<name>'."""
    _check_scope(scope)
    namespace = check_namespace(namespace)
    chosen = language(lang)
    lang = chosen.name
    book = parse_workbook(text, chosen)
    name = book.name
    check_references(conn, [w.graph for w in book.workflows], namespace,
                     (a.name for a in book.actions), lang=chosen)
    check_name(name, "a workbook", 200)
    if _find_by_name(conn, workbooks, name, namespace, project_id):
        raise DuplicateError(f"Duplicate entry for Workbook: workbook {name!r} already exists")
    now = utcnow()
    values = {
        "id": new_id(), "name": name, "namespace": namespace, "definition": text,
        "spec": book.spec, "tags": book.tags, "scope": scope, "project_id": project_id,
        "language": lang, "created_at": now, "updated_at": None,
    }
    conn.execute(insert(workbooks).values(**values))
    _write_workbook_members(conn, book, lang, namespace, scope, project_id, now)
    return values


def update_workbook(
    conn: Connection,
    text: str,
    namespace: str = "",
    scope: str = "private",
    project_id: str = DEFAULT_PROJECT,
    lang: Lang = None,
) -> dict[str, Any]:
    _check_scope(scope)
    namespace = check_namespace(namespace)
    chosen = language(lang)
    lang = chosen.name
    book = parse_workbook(text, chosen)
    name = book.name
    check_references(conn, [w.graph for w in book.workflows], namespace,
                     (a.name for a in book.actions), lang=chosen)
    existing = _find_by_name(conn, workbooks, name, namespace, project_id)
    if existing is None:
        raise NotFound(f"Workbook not found [name={name}]")
    now = utcnow()
    values = {"definition": text, "spec": book.spec, "tags": book.tags, "scope": scope,
              "language": lang, "updated_at": now}
    conn.execute(update(workbooks).where(workbooks.c.id == existing["id"]).values(**values))
    _write_workbook_members(conn, book, lang, namespace, scope, project_id, now)
    return {**existing, **values}


def get_workbook(conn: Connection, name: str, namespace: str = "") -> dict[str, Any]:
    row = _find_by_name(conn, workbooks, name, namespace or "")
    if row is None and is_uuid(name):
        row = _get_by_id(conn, workbooks, name)
    if row is None:
        raise NotFound(f"Workbook not found [name={name}]")
    return row


def delete_workbook(conn: Connection, name: str, namespace: str = "") -> None:
    """Delete a workbook with its workflows and actions."""
    row = get_workbook(conn, name, namespace)
    ns = row["namespace"]
    wf_ids = conn.execute(
        select(workflow_definitions.c.id).where(
            workflow_definitions.c.workbook_name == row["name"],
            workflow_definitions.c.namespace == ns,
        )
    ).scalars().all()
    for wf_id in wf_ids:
        _ensure_not_used_by_triggers(conn, wf_id, "delete")
    for table in (workflow_definitions, action_definitions):
        conn.execute(
            delete(table).where(table.c.workbook_name == row["name"], table.c.namespace == ns)
        )
    conn.execute(delete(workbooks).where(workbooks.c.id == row["id"]))


# --- environments --------------------------------------------------------------------------

def _check_variables(variables: Any) -> dict[str, Any]:
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise InvalidRequest("variables must be a JSON object")
    return variables


def create_environment(
    conn: Connection,
    name: str,
    variables: Any = None,
    description: str | None = None,
    scope: str = "private",
    project_id: str = DEFAULT_PROJECT,
) -> dict[str, Any]:
    _check_scope(scope)
    check_name(name, "an environment", 200)
    if _env_row(conn, name) is not None:
        raise DuplicateError(
            f"Duplicate entry for Environment: environment {name!r} already exists"
        )
    values = {
        "id": new_id(), "name": name, "description": description,
        "variables": _check_variables(variables), "scope": scope, "project_id": project_id,
        "created_at": utcnow(), "updated_at": None,
    }
    conn.execute(insert(environments).values(**values))
    return values


def _env_row(conn: Connection, name: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(environments).where(
            environments.c.name == name, environments.c.project_id == DEFAULT_PROJECT
        )
    ).first()
    if row is None and is_uuid(name):
        row = conn.execute(select(environments).where(environments.c.id == name)).first()
    return row_dict(row) if row is not None else None


def get_environment(conn: Connection, name: str) -> dict[str, Any]:
    row = _env_row(conn, name)
    if row is None:
        raise NotFound(f"Environment not found [name={name}]")
    return row


def update_environment(
    conn: Connection,
    name: str,
    variables: Any = None,
    description: str | None = None,
    scope: str | None = None,
) -> dict[str, Any]:
    row = get_environment(conn, name)
    values: dict[str, Any] = {"updated_at": utcnow()}
    if variables is not None:
        values["variables"] = _check_variables(variables)
    if description is not None:
        values["description"] = description
    if scope is not None:
        values["scope"] = _check_scope(scope)
    conn.execute(update(environments).where(environments.c.id == row["id"]).values(**values))
    return {**row, **values}


def delete_environment(conn: Connection, name: str) -> None:
    row = get_environment(conn, name)
    conn.execute(delete(environments).where(environments.c.id == row["id"]))


# --- cron triggers -------------------------------------------------------------------------

def _parse_time(value: Any, what: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    if not isinstance(value, str):
        raise InvalidRequest(f"{what} must be a time like 'YYYY-MM-DD HH:MM'")
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
                "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise InvalidRequest(f"{what} {value!r} is not a time like 'YYYY-MM-DD HH:MM'")


def next_firing(pattern: str, after: datetime) -> datetime:
    """The first time strictly after `after` that `pattern` matches (UTC)."""
    base = as_utc(after)
    assert base is not None
    nxt = croniter(pattern, base.replace(tzinfo=None)).get_next(datetime)
    return nxt.replace(tzinfo=UTC)


def _check_pattern(pattern: str) -> None:
    if not isinstance(pattern, str) or not croniter.is_valid(pattern):
        raise InvalidRequest(f"Invalid cron pattern {pattern!r}")


def create_cron_trigger(
    conn: Connection,
    name: str,
    workflow_identifier: str,
    pattern: str | None = None,
    first_time: Any = None,
    count: int | None = None,
    workflow_input: Any = None,
    workflow_params: Any = None,
    namespace: str = "",
    scope: str = "private",
    now: datetime | None = None,
) -> dict[str, Any]:
    """A trigger that starts `workflow_identifier` on `pattern` and/or at `first_time`."""
    _check_scope(scope)
    now = now or utcnow()
    check_name(name, "a cron trigger", 200)
    if not pattern and first_time in (None, ""):
        raise InvalidRequest("Pattern or first_execution_time must be specified.")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)
                              or not 1 <= count <= 2**31 - 1):
        raise InvalidRequest("remaining_executions must be a positive integer")
    if pattern:
        _check_pattern(pattern)
    first = _parse_time(first_time, "first_execution_time")
    if first is not None and first < now:
        raise InvalidRequest("first_execution_time must be a time in the future")
    if not pattern and count not in (None, 1):
        raise InvalidRequest("remaining_executions must be 1 when no pattern is given")
    if workflow_input is not None and not isinstance(workflow_input, dict):
        raise InvalidRequest("workflow_input must be a JSON object")
    if workflow_params is not None and not isinstance(workflow_params, dict):
        raise InvalidRequest("workflow_params must be a JSON object")
    workflow = get_workflow(conn, workflow_identifier, namespace)
    existing = conn.execute(
        select(cron_triggers.c.id).where(
            cron_triggers.c.name == name, cron_triggers.c.project_id == DEFAULT_PROJECT
        )
    ).first()
    if existing is not None:
        raise DuplicateError(
            f"Duplicate entry for cron trigger: cron trigger {name!r} already exists"
        )
    if first is not None:
        next_time = first
    else:
        assert pattern
        next_time = next_firing(pattern, now)
    values = {
        "id": new_id(), "name": name, "pattern": pattern or None,
        "first_execution_time": first, "next_execution_time": next_time,
        "remaining_executions": count if count is not None else (None if pattern else 1),
        "workflow_name": workflow["name"], "workflow_namespace": workflow["namespace"],
        "workflow_id": workflow["id"], "workflow_input": workflow_input or {},
        "workflow_params": workflow_params or {}, "scope": scope,
        "project_id": DEFAULT_PROJECT, "created_at": now, "updated_at": None,
    }
    conn.execute(insert(cron_triggers).values(**values))
    return values


def get_cron_trigger(conn: Connection, identifier: str) -> dict[str, Any]:
    row = conn.execute(
        select(cron_triggers).where(
            cron_triggers.c.name == identifier, cron_triggers.c.project_id == DEFAULT_PROJECT
        )
    ).first()
    if row is None and is_uuid(identifier):
        row = conn.execute(select(cron_triggers).where(cron_triggers.c.id == identifier)).first()
    if row is None:
        raise NotFound(f"Cron trigger not found [name={identifier}]")
    return row_dict(row)


def delete_cron_trigger(conn: Connection, identifier: str) -> None:
    row = get_cron_trigger(conn, identifier)
    conn.execute(delete(cron_triggers).where(cron_triggers.c.id == row["id"]))


def due_cron_trigger_ids(conn: Connection, now: datetime, limit: int = 100) -> list[str]:
    rows = conn.execute(
        select(cron_triggers.c.id)
        .where(cron_triggers.c.next_execution_time <= now)
        .order_by(cron_triggers.c.next_execution_time)
        .limit(limit)
    ).scalars().all()
    return list(rows)


def get_cron_trigger_by_id(conn: Connection, trigger_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(cron_triggers).where(cron_triggers.c.id == trigger_id)).first()
    return row_dict(row) if row is not None else None


def claim_cron_firing(
    conn: Connection, trigger_id: str, now: datetime, expected_due: datetime | None = None
) -> dict[str, Any] | None:
    """Take one due firing of a trigger, exactly once across processes.

    Moves `next_execution_time` on (or deletes the trigger when it has no firing left)
    with a compare-and-set on the due time: of two processes, only the one whose
    statement matched gets the row back.
    """
    found = conn.execute(select(cron_triggers).where(cron_triggers.c.id == trigger_id)).first()
    if found is None:
        return None
    row = row_dict(found)
    due = row["next_execution_time"]
    if due is None or due > now:
        return None
    if expected_due is not None and due != as_utc(expected_due):
        return None
    stored_due = found._mapping["next_execution_time"]
    remaining = row["remaining_executions"]
    if remaining is not None:
        remaining -= 1
    same = and_(cron_triggers.c.id == trigger_id,
                cron_triggers.c.next_execution_time == stored_due)
    if row["pattern"] and (remaining is None or remaining > 0):
        nxt = next_firing(row["pattern"], max(due, now))
        result = conn.execute(
            update(cron_triggers)
            .where(same)
            .values(next_execution_time=nxt, remaining_executions=remaining, updated_at=now)
        )
    else:
        result = conn.execute(delete(cron_triggers).where(same))
    if result.rowcount != 1:
        return None
    return row


# --- the one write on an execution that is not a state change ------------------------------

def set_execution_description(conn: Connection, execution_id: str, description: str) -> None:
    """Change a workflow execution's description (PUT /v2/executions/<id>)."""
    result = conn.execute(
        update(workflow_executions)
        .where(workflow_executions.c.id == execution_id)
        .values(description=description, updated_at=utcnow())
    )
    if result.rowcount == 0:
        raise NotFound(f"Workflow execution not found [id={execution_id}]")
