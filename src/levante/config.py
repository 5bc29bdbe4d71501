"""Configuration: every option declared once, typed, with a default and a help text.

The INI file ``levante.conf`` is found with ``--config-file FILE`` or ``--config-dir DIR``;
each option can be overridden by the environment variable ``LEVANTE_<SECTION>_<OPTION>``.
The sample file ``etc/levante.conf.sample`` is generated from the declarations below
(``levante config sample``) and a test keeps it in sync.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_FILE_NAME = "levante.conf"
ENV_PREFIX = "LEVANTE_"
MASK = "********"


class ConfigError(Exception):
    """A configuration file or value that cannot be used; the message says where and why."""


def parse_bool(raw: str) -> bool:
    """A yes/no word as configuration files and the API's filters take it; ValueError
    saying what is expected for any other."""
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("a boolean (true/false, yes/no, on/off, 1/0)")


def _parse_int(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError("an integer") from None


def _parse_float(raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError:
        raise ValueError("a number") from None


def _parse_list(raw: str) -> list[str]:
    return [item.strip() for item in raw.replace("\n", ",").split(",") if item.strip()]


def _parse_str(raw: str) -> str:
    return raw.strip()


_PARSERS: dict[str, Callable[[str], Any]] = {
    "str": _parse_str,
    "int": _parse_int,
    "float": _parse_float,
    "bool": parse_bool,
    "list": _parse_list,
}
_EXPECTED: dict[str, str] = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean (true/false, yes/no, on/off, 1/0)",
    "list": "a comma-separated list",
}


@dataclass(frozen=True)
class Option:
    """One declared option: its type, default, help text, and constraints."""

    section: str
    name: str
    type: str
    default: Any
    help: str
    secret: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None

    @property
    def env_var(self) -> str:
        return f"{ENV_PREFIX}{self.section.upper()}_{self.name.upper()}"

    def parse(self, raw: str) -> Any:
        """Turn a raw string into a typed value, or raise ValueError saying what is expected."""
        value = _PARSERS[self.type](raw)
        if self.choices and value not in self.choices:
            raise ValueError("one of " + ", ".join(self.choices))
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{_EXPECTED[self.type]} of at least {self.minimum:g}")
        return value

    def render_default(self) -> str:
        if self.type == "list":
            return ", ".join(self.default)
        if self.type == "bool":
            return "true" if self.default else "false"
        return str(self.default)


@dataclass(frozen=True)
class Section:
    name: str
    help: str
    options: tuple[Option, ...] = field(default_factory=tuple)


def _section(name: str, help: str, *options: tuple[Any, ...]) -> Section:
    built = []
    for spec in options:
        opt_name, opt_type, default, opt_help, *rest = spec
        extra: dict[str, Any] = rest[0] if rest else {}
        built.append(Option(name, opt_name, opt_type, default, opt_help, **extra))
    return Section(name, help, tuple(built))


# --- The declarations. Add an option here and regenerate the sample (`make sample`). ---
SECTIONS: tuple[Section, ...] = (
    _section(
        "core",
        "Where Levante keeps its files, and how a service process uses the CPUs.",
        ("data_dir", "str", "~/.local/share/levante",
         "Data folder: the embedded SQLite database, the first API key, logs of `levante up`."),
        ("cpu_affinity", "str", "off",
         "Whether the threads of a `levante up` or `levante serve` process stay on one CPU: "
         "`off` (the default: the system places them, and moves them away from busy "
         "neighbours), `auto` (the least busy CPU that no other Levante process of this "
         "user keeps to; none when all are kept), or a CPU number (refused if another "
         "Levante process keeps to it). Two Levante processes never keep to one CPU. "
         "Pinning spares the hand-overs between a process's threads a trip between CPUs, "
         "but on a shared host a pinned process cannot escape a busy CPU. Action "
         "processes it starts may use every CPU."),
    ),
    _section(
        "database",
        "The SQL database shared by every process of one Levante installation.",
        ("connection", "str", "",
         "SQLAlchemy URL, e.g. postgresql://user@host/levante. Empty: SQLite file "
         "levante.sqlite in [core] data_dir.", {"secret": True}),
        ("busy_timeout", "float", 30.0,
         "SQLite only: seconds a writer waits for the lock before failing.", {"minimum": 0}),
        ("pool_size", "int", 10, "PostgreSQL only: connections kept open per process.",
         {"minimum": 1}),
        ("echo", "bool", False, "Log every SQL statement (debugging only)."),
        ("write_retry_timeout", "float", 900.0,
         "Seconds an outcome that the database refused to record (read-only, locked, "
         "unreachable) is kept in memory and written again with backoff, before it is "
         "given up (logged as an error).", {"minimum": 0}),
    ),
    _section(
        "api",
        "The platform's REST API (StackStorm v1 compatible) and web UI.",
        ("host", "str", "127.0.0.1", "Address the platform API listens on."),
        ("port", "int", 9101, "Port the platform API listens on.", {"minimum": 0}),
        ("public_url", "str", "",
         "URL by which others (the engine, web links) reach this API. Empty: "
         "http://<host>:<port>."),
        ("auth_port", "int", 9100,
         "Port on the API's host also serving the token routes (/tokens, /auth/v1/tokens), "
         "where st2client looks for them when given only --api-url; 0: none. A port "
         "already in use is logged and skipped.", {"minimum": 0}),
        ("stream_port", "int", 9102,
         "Port on the API's host also serving the event stream (/v1/stream), where "
         "st2client looks for it when given only --api-url; 0: none. A port already in use "
         "is logged and skipped.", {"minimum": 0}),
    ),
    _section(
        "engine",
        "The workflow engine and its Mistral v2 compatible REST API.",
        ("host", "str", "127.0.0.1", "Address the engine API listens on."),
        ("port", "int", 8989, "Port the engine API listens on.", {"minimum": 0}),
        ("public_url", "str", "",
         "URL by which the platform reaches the engine API. Empty: http://<host>:<port>."),
        ("auth", "bool", True,
         "Require an API key or token (X-Auth-Token or St2-Api-Key) on every engine route "
         "but the version roots, the OpenAPI document and /identity (Keystone v3)."),
        ("workers", "int", 4, "Steps one engine process runs at once.", {"minimum": 1}),
        ("poll_interval", "float", 1.0,
         "Seconds between looks at the work queue when no wake-up arrives.", {"minimum": 0.01}),
        ("max_nesting_depth", "int", 100,
         "Deepest nesting of workflows: sub-workflows, and workflow actions started as "
         "children of a workflow. A task that would start a workflow deeper fails with "
         "the reason in its state_info (a workflow that starts itself stops there).",
         {"minimum": 1}),
        ("expression_timeout", "float", 5.0,
         "Seconds one YAQL or Jinja expression may run before it fails its task.",
         {"minimum": 0.01}),
        ("max_step_attempts", "int", 3,
         "Times the engine tries one piece of work (the report of an action's end, an "
         "action run again after its engine process stopped, a step) that fails or stops "
         "the engine process; then the work is set aside and its task (or workflow) fails "
         "with the reason.", {"minimum": 1}),
        ("http_denied_networks", "list", [],
         "Networks (CIDR) that std.http may not reach, e.g. 169.254.0.0/16."),
        ("smtp_host", "str", "", "Default SMTP host for std.email when the task names none."),
        ("platform_retry_seconds", "float", 300.0,
         "Seconds a task that runs a platform action keeps trying to create its child "
         "execution while the platform cannot be reached (connection error, timeout, "
         "HTTP 5xx), with backoff; the child's id is derived from the action execution's, "
         "so a retry never creates a second child. Then the task fails.", {"minimum": 0}),
        ("platform_request_timeout", "float", 30.0,
         "Seconds one request to the platform may take before it counts as failed (and "
         "is tried again).", {"minimum": 0.1}),
        ("platform_max_backoff", "float", 10.0,
         "Longest wait between two attempts to reach the platform.", {"minimum": 0.01}),
    ),
    _section(
        "notifier",
        "Delivery of workflow and task events from the engine to subscribers.",
        ("enabled", "bool", True, "Deliver events at all."),
        ("max_retry_age", "float", 86400.0,
         "Seconds after which an undelivered event is given up.", {"minimum": 1}),
        ("initial_backoff", "float", 0.5, "Seconds before the first retry.", {"minimum": 0}),
        ("max_backoff", "float", 300.0, "Longest wait between two retries.", {"minimum": 0}),
        ("webhooks", "list", [], "URLs that receive every event, besides subscribers."),
        ("signing_secret", "str", "",
         "Secret for HMAC-SHA256 signatures of events (Standard Webhooks). Empty: one is "
         "generated in the data folder.", {"secret": True}),
        ("poll_interval", "float", 0.5,
         "Seconds between looks at the outbox when no wake-up arrives.", {"minimum": 0.01}),
        ("request_timeout", "float", 10.0,
         "Seconds one delivery attempt may take before it counts as failed.",
         {"minimum": 0.1}),
        ("concurrency", "int", 32, "Deliveries in flight at once in one process.",
         {"minimum": 1}),
        ("task_event_linger", "float", 0.05,
         "Seconds a task event (or WORKFLOW_LAUNCHED) for the platform (a `levante` "
         "subscriber) may wait to be sent in one request with the events that follow it; "
         "the other workflow events are sent at once, with every event before them. 0: "
         "send each at once.", {"minimum": 0}),
        ("keep_days", "float", 7.0,
         "Days the record of a finished delivery is kept (for `levante execution trace`).",
         {"minimum": 0}),
    ),
    _section(
        "resultstracker",
        "Fallback that polls the engine for workflow executions the platform tracks.",
        ("query_interval", "float", 5.0, "Seconds between two polls of one execution.",
         {"minimum": 0.01}),
        ("thread_pool_size", "int", 10, "Requests to the engine in flight at most.",
         {"minimum": 1}),
        ("empty_q_sleep_time", "float", 1.0, "Seconds to sleep when nothing is tracked.",
         {"minimum": 0}),
        ("no_workers_sleep_time", "float", 1.0,
         "Seconds to sleep when every request slot is busy.", {"minimum": 0}),
        ("silence_timeout", "float", 60.0,
         "Seconds without an event after which a running workflow execution is tracked "
         "automatically.", {"minimum": 1}),
        ("batch_size", "int", 250,
         "Executions asked about in one request to the engine.", {"minimum": 1}),
    ),
    _section(
        "retention",
        "How long finished history is kept; the garbagecollector role (part of `levante up`) "
        "and the engine delete older history in small batches, and `levante-db-manage purge` "
        "does it by hand. 0 keeps that history for ever (the default, as StackStorm).",
        ("executions_days", "float", 0.0,
         "Days a finished execution is kept after it ended, on both services, with its "
         "children, output and events. Running executions, and any execution whose tree "
         "still runs or is still followed, are never deleted.", {"minimum": 0}),
        ("status_days", "list", [],
         "Overrides by final status, as <status>:<days>, e.g. failed:90,canceled:7 "
         "(statuses of the platform: succeeded, failed, timeout, abandoned, canceled; a "
         "workflow on the engine counts as succeeded, failed or canceled)."),
        ("output_days", "float", 0.0,
         "Days the output lines (stdout, stderr) of a finished execution are kept; 0: as "
         "long as the execution.", {"minimum": 0}),
        ("events_days", "float", 0.0,
         "Days delivered events and sent reports between the services are kept (they feed "
         "`levante execution trace`).", {"minimum": 0}),
        ("trigger_instances_days", "float", 0.0,
         "Days a trigger instance that was processed (or failed) is kept, with its rule "
         "enforcements, and a timer's fired slot (its latest is always kept); the "
         "executions they started follow executions_days.",
         {"minimum": 0}),
        ("batch_size", "int", 500,
         "Executions (or rows) deleted in one short transaction.", {"minimum": 1}),
        ("interval", "float", 3600.0, "Seconds between two purge passes.",
         {"minimum": 0.01}),
    ),
    _section(
        "receiver",
        "The platform's receiver of workflow events (POST /v1/webhooks/...).",
        ("accept_unsigned_mistral", "bool", False,
         "Accept unsigned events of a real Mistral server's webhook publisher on "
         "/v1/webhooks/mistral (authenticated by an API key). Off: every event must carry "
         "the engine's signature."),
    ),
    _section(
        "auth",
        "Authentication of the platform API.",
        ("enabled", "bool", True, "Require an API key or token on every request."),
        ("token_ttl", "int", 86400,
         "Seconds a token lives; also the longest a client may ask for (ttl).",
         {"minimum": 1}),
        ("users_file", "str", "",
         "htpasswd file of the users who may log in with a password (st2 login, st2 auth), "
         "bcrypt hashes only (htpasswd -B, levante user add). Empty: htpasswd in "
         "[core] data_dir."),
    ),
    _section(
        "content",
        "Packs of actions.",
        ("packs_paths", "list", [],
         "Folders searched for packs, besides the bundled ones (core, examples)."),
        ("configs_path", "str", "",
         "Folder of pack configs, one <pack>.yaml per pack, validated against the pack's "
         "config.schema.yaml when the pack is registered; empty: <data_dir>/configs."),
    ),
    _section(
        "datastore",
        "The datastore (/v1/keys, st2kv): keys and values, secrets encrypted at rest.",
        ("crypto_key_path", "str", "",
         "File of the symmetric key (AES-256-GCM) secret values are encrypted with; "
         "`levante up` creates it when missing, `levante key generate-crypto-key` creates "
         "one for a deployment. Empty: <data_dir>/datastore_crypto_key."),
        ("admin_users", "list", ["admin"],
         "Users who may decrypt system-scoped secrets and read or write other users' keys "
         "(besides Levante's own service keys; everyone when [auth] enabled is false)."),
    ),
    _section(
        "packs",
        "Pack environments: a virtual environment per pack with a requirements.txt.",
        ("virtualenvs_path", "str", "",
         "Folder holding one virtual environment per pack (<folder>/<pack>); empty: "
         "virtualenvs in [core] data_dir."),
        ("enable_common_libs", "bool", False,
         "Put a pack's top-level lib/ folder on the path of its Python actions (its "
         "actions/lib always is)."),
        ("pip_options", "list", [],
         "Extra options for pip when it installs a pack's requirements, e.g. "
         "--no-index, --find-links=/srv/wheels."),
        ("setup_timeout", "int", 600,
         "Seconds the setup of one pack's virtual environment may take.", {"minimum": 1}),
    ),
    _section(
        "runner",
        "Execution of actions on the platform.",
        ("workers", "int", 8, "Actions one runner process runs at once.", {"minimum": 1}),
        ("allow_sudo", "bool", False, "Allow actions to run with sudo."),
        ("default_timeout", "int", 600, "Seconds an action runs at most when it sets none.",
         {"minimum": 1}),
        ("poll_interval", "float", 0.5,
         "Seconds between looks for new work and cancel requests when no wake-up arrives.",
         {"minimum": 0.01}),
        ("launch_retry_seconds", "float", 300.0,
         "Seconds a workflow launch keeps trying while the engine cannot be reached "
         "(connection error, timeout, HTTP 5xx), with backoff; a launch that waits holds "
         "no worker. The engine's execution id is derived from the platform's, so a "
         "retry never starts a second workflow. Then the launch fails, unless the engine "
         "knows the workflow (it is tracked then).", {"minimum": 0}),
        ("launch_request_timeout", "float", 30.0,
         "Seconds one request of a launch to the engine may take before it counts as "
         "failed (and is tried again).", {"minimum": 0.1}),
        ("launch_max_backoff", "float", 10.0,
         "Longest wait between two attempts of a launch.", {"minimum": 0.01}),
    ),
    _section(
        "inquiry",
        "Inquiries (core.ask): questions workflows ask people.",
        ("sweep_interval", "float", 10.0,
         "Seconds between two looks for inquiries whose ttl ran out (they end `timeout` "
         "and their workflow resumes).", {"minimum": 0.01}),
        ("ttl_unit", "float", 60.0,
         "Seconds in one unit of an inquiry's `ttl`: 60, minutes as in StackStorm. Lower "
         "it only for tests.", {"minimum": 0.001}),
    ),
    _section(
        "rulesengine",
        "The rules engine: matches trigger instances against rules and starts their "
        "actions.",
        ("system_user", "str", "stanley",
         "User the executions of a rule run as when the rule names none (rules of packs; "
         "StackStorm's system user)."),
        ("batch_size", "int", 100,
         "Trigger instances one rules engine claims at once.", {"minimum": 1}),
        ("poll_interval", "float", 0.2,
         "Seconds between looks for pending trigger instances when no wake-up arrives "
         "(a look is one indexed read; on SQLite, the wake-up of instances recorded by "
         "another process).",
         {"minimum": 0.01}),
        ("lease_seconds", "float", 30.0,
         "Seconds a claim on trigger instances holds; the instances of a rules engine "
         "that died are taken over by another after this.", {"minimum": 1}),
    ),
    _section(
        "sensorcontainer",
        "The sensor container role: runs pack sensors, each in a process of its own.",
        ("lease_seconds", "float", 15.0,
         "Seconds a container's hold on a sensor lasts without renewal: another container "
         "takes the sensors of one that died after this long.", {"minimum": 1}),
        ("renew_interval", "float", 3.0,
         "Seconds between two lease renewals; also how soon enable, disable and new "
         "sensors are noticed. Keep it well under lease_seconds.", {"minimum": 0.05}),
        ("initial_backoff", "float", 1.0,
         "Seconds before a crashed sensor is started again; doubled after each crash in a "
         "row.", {"minimum": 0}),
        ("max_backoff", "float", 60.0,
         "Longest wait before a crashed sensor is started again.", {"minimum": 0}),
        ("backoff_reset", "float", 60.0,
         "Seconds a sensor must run to count as started well: its next crash waits "
         "initial_backoff again.", {"minimum": 0}),
        ("stop_timeout", "float", 5.0,
         "Seconds a stopping sensor has for its cleanup before it is killed.",
         {"minimum": 0.1}),
        ("max_sensors", "int", 0,
         "Most sensors one container runs (0: no limit); more containers share the rest.",
         {"minimum": 0}),
        ("validate_trigger_payload", "bool", True,
         "Refuse (and log) a dispatched payload that its trigger type's payload_schema "
         "refuses, as StackStorm's [system] validate_trigger_payload."),
    ),
    _section(
        "log",
        "Logging: one line per event with a timestamp, level, component and message.",
        ("level", "str", "INFO", "Lowest level logged.",
         {"choices": ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")}),
        ("file", "str", "", "Also write the log to this file. Empty: stderr only."),
    ),
)

_BY_SECTION: dict[str, Section] = {s.name: s for s in SECTIONS}


def find_option(section: str, name: str) -> Option:
    try:
        sect = _BY_SECTION[section]
    except KeyError:
        raise KeyError(f"no section [{section}]") from None
    for opt in sect.options:
        if opt.name == name:
            return opt
    raise KeyError(f"no option {name!r} in [{section}]")


class Config:
    """The effective configuration: defaults, then the file, then the environment."""

    def __init__(self, values: Mapping[tuple[str, str], Any], source: Path | None) -> None:
        self._values = dict(values)
        self.source = source

    def get(self, section: str, name: str) -> Any:
        find_option(section, name)
        return self._values[(section, name)]

    def get_str(self, section: str, name: str) -> str:
        return str(self.get(section, name))

    def get_int(self, section: str, name: str) -> int:
        return int(self.get(section, name))

    def get_float(self, section: str, name: str) -> float:
        return float(self.get(section, name))

    def get_bool(self, section: str, name: str) -> bool:
        return bool(self.get(section, name))

    def get_list(self, section: str, name: str) -> list[str]:
        return list(self.get(section, name))

    def with_overrides(self, overrides: Mapping[tuple[str, str], Any]) -> Config:
        """A copy with some values replaced (already typed), e.g. from command-line flags."""
        merged = dict(self._values)
        for key, value in overrides.items():
            find_option(*key)
            merged[key] = value
        return Config(merged, self.source)

    # Derived values used in many places.
    @property
    def data_dir(self) -> Path:
        return Path(self.get_str("core", "data_dir")).expanduser()

    @property
    def configs_path(self) -> Path:
        """Folder of pack configs (``[content] configs_path``, else ``<data_dir>/configs``)."""
        path = self.get_str("content", "configs_path")
        return Path(path).expanduser() if path else self.data_dir / "configs"

    @property
    def virtualenvs_dir(self) -> Path:
        """Folder of pack virtualenvs (``[packs] virtualenvs_path``, else
        ``<data_dir>/virtualenvs``)."""
        custom = self.get_str("packs", "virtualenvs_path")
        return Path(custom).expanduser() if custom else self.data_dir / "virtualenvs"

    @property
    def database_url(self) -> str:
        url = self.get_str("database", "connection")
        if url:
            return url
        return f"sqlite:///{self.data_dir / 'levante.sqlite'}"

    def public_url(self, section: str) -> str:
        url = self.get_str(section, "public_url")
        if url:
            return url.rstrip("/")
        host = self.get_str(section, "host")
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{host}:{self.get_int(section, 'port')}"

    def items(self) -> Iterable[tuple[Option, Any]]:
        for sect in SECTIONS:
            for opt in sect.options:
                yield opt, self._values[(sect.name, opt.name)]

    def render(self, mask_secrets: bool = True) -> str:
        """The effective configuration as INI text, secrets masked."""
        lines: list[str] = []
        for sect in SECTIONS:
            lines.append(f"[{sect.name}]")
            for opt in sect.options:
                value = self._values[(sect.name, opt.name)]
                shown = Option(**{**opt.__dict__, "default": value}).render_default()
                if opt.secret and mask_secrets and shown:
                    shown = MASK
                lines.append(f"{opt.name} = {shown}")
            lines.append("")
        return "\n".join(lines)


def find_config_file(config_file: str | None, config_dir: str | None) -> Path | None:
    """The file to read: the one named, the one in the folder named, or a usual place."""
    if config_file:
        path = Path(config_file).expanduser()
        if not path.is_file():
            raise ConfigError(f"{path}: no such configuration file")
        return path
    if config_dir:
        folder = Path(config_dir).expanduser()
        if not folder.is_dir():
            raise ConfigError(f"{folder}: no such configuration folder")
        path = folder / CONFIG_FILE_NAME
        if not path.is_file():
            raise ConfigError(f"{folder}: has no {CONFIG_FILE_NAME}")
        return path
    env_file = os.environ.get("LEVANTE_CONFIG_FILE")
    if env_file:
        return find_config_file(env_file, None)
    for candidate in (Path.cwd() / CONFIG_FILE_NAME, Path("/etc/levante") / CONFIG_FILE_NAME):
        if candidate.is_file():
            return candidate
    return None


def load_config(
    config_file: str | None = None,
    config_dir: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Read defaults, then the file, then ``LEVANTE_<SECTION>_<OPTION>`` variables."""
    env = os.environ if environ is None else environ
    path = find_config_file(config_file, config_dir)
    values: dict[tuple[str, str], Any] = {}
    for sect in SECTIONS:
        for opt in sect.options:
            values[(sect.name, opt.name)] = opt.default
    if path is not None:
        parser = configparser.ConfigParser(interpolation=None, default_section="\0none")
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as exc:
            raise ConfigError(f"{path}: cannot be read as INI: {exc}") from None
        for section_name in parser.sections():
            if section_name not in _BY_SECTION:
                known = ", ".join(s.name for s in SECTIONS)
                raise ConfigError(
                    f"{path}: unknown section [{section_name}] (known sections: {known})"
                )
            for name, raw in parser.items(section_name):
                try:
                    opt = find_option(section_name, name)
                except KeyError:
                    known = ", ".join(o.name for o in _BY_SECTION[section_name].options)
                    raise ConfigError(
                        f"{path}: [{section_name}] unknown option {name!r} "
                        f"(known options: {known})"
                    ) from None
                values[(section_name, name)] = _parse_checked(opt, raw, f"{path}: ")
    for sect in SECTIONS:
        for opt in sect.options:
            if opt.env_var in env:
                values[(sect.name, opt.name)] = _parse_checked(
                    opt, env[opt.env_var], f"environment variable {opt.env_var}: "
                )
    return Config(values, path)


def _parse_checked(opt: Option, raw: str, where: str) -> Any:
    try:
        return opt.parse(raw)
    except ValueError as exc:
        shown = MASK if opt.secret else repr(raw.strip())
        raise ConfigError(
            f"{where}[{opt.section}] {opt.name} = {shown} is not valid: expected {exc}"
        ) from None


def render_sample() -> str:
    """The text of etc/levante.conf.sample: every option, commented, at its default."""
    out = [
        "# levante.conf: sample configuration, generated by `levante config sample`.",
        "# Every option is shown at its default. Any option can also be set by the",
        "# environment variable LEVANTE_<SECTION>_<OPTION>, e.g. LEVANTE_DATABASE_CONNECTION.",
        "",
    ]
    for sect in SECTIONS:
        out.append(f"# {sect.help}")
        out.append(f"[{sect.name}]")
        out.append("")
        for opt in sect.options:
            out.append(f"# {opt.help}")
            detail = f"# ({opt.type}"
            if opt.choices:
                detail += "; one of " + ", ".join(opt.choices)
            if opt.minimum is not None:
                detail += f"; at least {opt.minimum:g}"
            if opt.secret:
                detail += "; secret"
            out.append(detail + f"; env {opt.env_var})")
            out.append(f"#{opt.name} = {opt.render_default()}".rstrip())
            out.append("")
    return "\n".join(out).rstrip() + "\n"
