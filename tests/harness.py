"""Levante as real processes, for every acceptance suite and benchmark: one harness that
starts any set of roles (`levante serve ROLE`, several processes per role if wanted),
`levante up`, or a command of the caller's (a benchmark's own server), each from a config
file the harness writes, on SQLite or PostgreSQL, on one database or on two (engine and
platform apart, wired by HTTP only), and drives them over HTTP and the CLI.

`start_system` builds the whole thing (databases at head, config files, packs registered,
the CLI's key, processes up); `System.close` stops the processes and drops the databases
it made. Suites keep only what is theirs: their packs, options and helpers.

A process has a name: its role (`api`, `engine`, `notifier`, `runner`, `resultstracker`),
optionally with a suffix for a second process of the role (`engine-2`, `runner-2`), or `up`
for the whole of Levante in one process. Processes can be killed (-9), paused (SIGSTOP),
resumed and restarted with the same command line; their output goes to `<logs>/<name>.out`.

The platform's API key (the key file of the data folder, as the CLI reads it) is sent on
every request, to the platform and to the engine alike, so that an engine that requires
authentication is driven as the platform and the CLI drive it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from levante.db.connect import normalize_url

ROLES = ("api", "engine", "notifier", "runner", "resultstracker")
ENGINE_ROLES = ("engine", "notifier")
# Roles a test starts when it needs them (not part of a default system).
EXTRA_ROLES = ("rulesengine", "sensorcontainer", "garbagecollector")
DONE = frozenset({"succeeded", "failed", "timeout", "abandoned", "canceled"})
BIN = Path(sys.executable).parent
POSTGRES_ENV = "LEVANTE_TEST_POSTGRES_URL"
Sections = Mapping[str, Mapping[str, Any]]


def levante_bin(name: str) -> str:
    """Path of a console script installed beside the running Python (the venv's)."""
    path = BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


T = TypeVar("T")


def eventually(check: Callable[[], T | None], timeout: float = 30.0,
               what: str = "condition", step: float = 0.1) -> T:
    """Call ``check`` every ``step`` seconds until it gives something truthy; that value.
    Fails naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(step)


@contextlib.contextmanager
def serve_http(server: ThreadingHTTPServer) -> Iterator[str]:
    """Serve ``server`` (bound, on a loopback port) from a thread; its base URL
    (``http://host:port``). Shut down and closed at the end; its request threads never
    hold the test up."""
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environ(**extra: str) -> dict[str, str]:
    """This process's environment without its LEVANTE_*/ST2_* settings, plus `extra`: a
    child then reads only the config file and what the caller sets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEVANTE_", "ST2_"))}
    env.update(extra)
    return env


def create_database(server_url: str, prefix: str = "levante_test_",
                    template: str | None = None) -> str:
    """A new database on the PostgreSQL server of `server_url` (empty, or a copy of the
    database `template`); returns its URL."""
    admin = create_engine(normalize_url(server_url), isolation_level="AUTOCOMMIT")
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    statement = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
    try:
        for attempt in range(50):
            try:
                with admin.connect() as conn:
                    conn.execute(text(statement))
                break
            except OperationalError as exc:
                # Another copy of the same template is being made at this instant.
                if "is being accessed by other users" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.1)
    finally:
        admin.dispose()
    return make_url(normalize_url(server_url)).set(database=name).render_as_string(
        hide_password=False
    )


# (server URL, head revision) -> the template database this process migrated once.
_TEMPLATES: dict[tuple[str, str], str] = {}


def migrated_database(server_url: str) -> str:
    """A new PostgreSQL database already at the head of the migrations: a copy of a
    template this process migrated once (a copy takes milliseconds, migrating a second)."""
    from levante.db import manage

    key = (server_url, manage.head_revision())
    if key not in _TEMPLATES:
        url = create_database(server_url, prefix=f"levante_template_{os.getpid()}_")
        manage.upgrade(url, "head")
        _TEMPLATES[key] = str(make_url(url).database)
        atexit.register(drop_database, server_url, url)
    return create_database(server_url, template=_TEMPLATES[key])


# head revision -> the SQLite file this process migrated once.
_SQLITE_TEMPLATES: dict[str, Path] = {}


def migrated_sqlite(url: str) -> str:
    """The SQLite database of `url` at the head of the migrations, as `levante-db-manage
    upgrade head` leaves it. A new one is a copy of a file this process migrated once (a
    copy takes a millisecond, migrating most of a second); one that exists is upgraded.
    Returns `url`."""
    import sqlite3
    import tempfile

    from levante.db import manage
    from levante.db.connect import sqlite_path

    target = sqlite_path(normalize_url(url))
    assert target is not None, url
    if target.exists():
        manage.upgrade(url, "head")
        return url
    head = manage.head_revision()
    if head not in _SQLITE_TEMPLATES:
        folder = Path(tempfile.mkdtemp(prefix=f"levante-template-{os.getpid()}-"))
        atexit.register(shutil.rmtree, folder, True)
        template = folder / "template.sqlite"
        manage.upgrade(f"sqlite:///{template}", "head")
        with sqlite3.connect(template) as conn:  # everything in the file itself
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        _SQLITE_TEMPLATES[head] = template
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_SQLITE_TEMPLATES[head], target)
    return url


def drop_database(server_url: str, url: str, wait: bool = True) -> None:
    """Drop the database of `url` (its sessions ended first) through `server_url`.

    ``wait=False``: dropped by a thread of this process while the caller goes on (a drop
    waits for a checkpoint of the whole server: seconds while other tests write); the
    process waits for those drops before it exits."""
    if not wait:
        _DROPS.put((server_url, url))
        _start_dropper()
        return
    admin = create_engine(normalize_url(server_url), isolation_level="AUTOCOMMIT")
    name = make_url(url).database
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


_DROPS: queue.Queue[tuple[str, str] | None] = queue.Queue()
_DROPPER: list[threading.Thread] = []


def _drop_queued() -> None:
    while (item := _DROPS.get()) is not None:
        try:
            drop_database(*item)
        except Exception as exc:  # a test database left behind is no test failure
            sys.stderr.write(f"could not drop {make_url(item[1]).database}: {exc}\n")


def _start_dropper() -> None:
    if not _DROPPER:
        thread = threading.Thread(target=_drop_queued, name="levante-test-drops",
                                  daemon=True)  # held until exit by `finish`
        thread.start()
        _DROPPER.append(thread)

        def finish() -> None:
            _DROPS.put(None)
            thread.join()

        atexit.register(finish)


def new_databases(kind: str, folder: Path, names: Sequence[str],
                  server_url: str = "", migrated: bool = False) -> list[str]:
    """Databases, one per name, empty or (`migrated`) at head: SQLite files
    `<folder>/<name>.sqlite`, or ("postgres") new databases on `server_url` (default:
    $LEVANTE_TEST_POSTGRES_URL)."""
    if kind == "sqlite":
        urls = [f"sqlite:///{folder / f'{name}.sqlite'}" for name in names]
        for url in urls if migrated else ():
            migrated_sqlite(url)
        return urls
    server = server_url or os.environ.get(POSTGRES_ENV, "")
    if not server:
        raise LookupError(f"PostgreSQL needs a server URL (set {POSTGRES_ENV})")
    return [migrated_database(server) if migrated else create_database(server)
            for _ in names]


def write_ini(path: Path, sections: Sections) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(
        f"[{section}]\n" + "".join(f"{name} = {value}\n" for name, value in values.items())
        for section, values in sections.items()), encoding="utf-8")
    return path


def short_intervals(url: str, data: Path, engine_port: int, api_port: int,
                    secret: str = "") -> dict[str, dict[str, Any]]:
    """The sections of a test config: short intervals (tests wait for seconds, not
    minutes)."""
    return {
        "core": {"data_dir": data},
        "database": {"connection": url},
        "engine": {"port": engine_port, "poll_interval": 0.2},
        "api": {"port": api_port},
        "notifier": {**({"signing_secret": secret} if secret else {}),
                     "initial_backoff": 0.1, "max_backoff": 0.5, "poll_interval": 0.1},
        "runner": {"poll_interval": 0.1},
        "resultstracker": {"query_interval": 0.5, "empty_q_sleep_time": 0.2,
                           "silence_timeout": 5},
    }


def merged(*layers: Sections | None) -> dict[str, dict[str, Any]]:
    """Config sections, each layer adding to or replacing the values of the ones before."""
    found: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for section, values in (layer or {}).items():
            found.setdefault(section, {}).update(values)
    return found


def write_conf(path: Path, url: str, data: Path, engine_port: int, api_port: int,
               secret: str, packs: Path | None = None,
               options: Sections | None = None) -> Path:
    """A config file with short intervals; `options` ({section: {option: value}}) add to
    or replace the values of `short_intervals`."""
    content = {"content": {"packs_paths": packs}} if packs else None
    return write_ini(path, merged(short_intervals(url, data, engine_port, api_port, secret),
                                  content, options))


def write_pack(root: Path, name: str, files: Mapping[str, str]) -> Path:
    """Write the files of pack `name` under `root`; returns `root` (a packs path)."""
    for relative, content in files.items():
        path = root / name / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return root


def upgrade(url: str) -> None:
    """The database of `url` at the head of the migrations, as `levante-db-manage` does."""
    from levante.db import manage

    manage.upgrade(url, "head")


def register(conf: Path, strict: bool = True) -> str:
    """As `levante up` prepares the platform: the packs of `[content] packs_paths` (and the
    bundled ones) registered, and the CLI's key in the data folder; returns the key.
    `strict`: a file that could not be registered fails (else it is left out, as by
    `levante up`)."""
    from levante.config import load_config
    from levante.db.connect import make_engine
    from levante.platform.core.pack_registry import register_packs
    from levante.platform.service import ensure_api_key

    config = load_config(str(conf), environ={})
    db = make_engine(config.database_url)
    try:
        report = register_packs(db, config.get_list("content", "packs_paths"))
        assert not (strict and report.errors), report.errors
        key, _ = ensure_api_key(config, db)
    finally:
        db.dispose()
    return key


def role_of(name: str) -> str:
    """`runner-2` -> `runner`; `up` -> `up`."""
    return name.split("-", 1)[0]


@dataclass
class System:
    """Levante processes started from config files; `confs` maps a process name or a role
    to its config file (a name's own entry wins over its role's); `commands` gives a
    process a command line of its own instead of `levante serve` (a benchmark's server)."""

    tmp: Path
    confs: dict[str, Path]
    engine_port: int
    api_port: int
    key: str = ""
    secret: str = ""  # the notifier's signing secret, as the platform checks it
    engine_db: str = ""
    platform_db: str = ""
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # e.g. LEVANTE_<SECTION>_<OPTION>
    commands: dict[str, list[str]] = field(default_factory=dict)
    clean_env: bool = False  # children do not inherit this process's LEVANTE_*/ST2_*
    cwd: Path | None = None
    logs: Path | None = None  # folder of the processes' output (default: tmp)
    log_suffix: str = ".out"
    server_url: str = ""  # the PostgreSQL server whose databases `close` drops
    made: list[str] = field(default_factory=list)  # databases made for this system

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def engine(self) -> str:
        return f"http://127.0.0.1:{self.engine_port}"

    @classmethod
    def create(cls, tmp: Path, kind: str = "sqlite", roles: Sequence[str] = ROLES,
               **options: Any) -> Self:
        """`start_system` making an instance of this class (a suite's subclass)."""
        found = start_system(tmp, kind, roles, cls=cls, **options)
        assert isinstance(found, cls)
        return found

    # -- processes --
    def conf_for(self, name: str) -> Path:
        return self.confs.get(name) or self.confs[role_of(name)]

    def log_path(self, name: str) -> Path:
        return (self.logs or self.tmp) / f"{name}{self.log_suffix}"

    def command(self, name: str) -> list[str]:
        if name in self.commands:
            return self.commands[name]
        conf = str(self.conf_for(name))
        if name == "up":
            return [levante_bin("levante"), "up", "--no-example", "--config-file", conf]
        return [levante_bin("levante"), "serve", role_of(name), "--config-file", conf]

    def start(self, name: str) -> subprocess.Popen[bytes]:
        base = clean_environ() if self.clean_env else dict(os.environ)
        with open(self.log_path(name), "ab") as log:  # (the child keeps its own copy)
            proc = self.procs[name] = subprocess.Popen(
                self.command(name), stdout=log, stderr=subprocess.STDOUT, cwd=self.cwd,
                env={**base, "PYTHONUNBUFFERED": "1", **self.env},
            )
        return proc

    def signal(self, name: str, sig: int) -> None:
        self.procs[name].send_signal(sig)

    def kill(self, name: str) -> None:
        """kill -9, and forget the process (start it again with `start`)."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def pause(self, name: str) -> None:
        self.signal(name, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.signal(name, signal.SIGCONT)

    def stop(self, name: str, sig: int | None = None, timeout: float = 30) -> None:
        """Stop one process as an operator would (SIGTERM, or `sig`; -9 if it does not
        end in `timeout` s), and forget it; a name not running is no error."""
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        proc.send_signal(signal.SIGCONT)
        proc.send_signal(sig or signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.procs.clear()

    def close(self) -> None:
        """Stop every process and drop the databases made for this system."""
        self.stop_all()
        for url in self.made:
            drop_database(self.server_url, url, wait=False)
        self.made.clear()

    def wait_up(self, url: str, timeout: float = 60) -> None:
        """Until `url` answers; fails early, with the output's end, when a process of the
        system has exited."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    tail = self.log_path(name).read_text(errors="replace")[-2000:]
                    raise AssertionError(f"{name} exited with {proc.returncode} while "
                                         f"waiting for {url}:\n{tail}")
            try:
                httpx.get(url, timeout=1.0)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError(f"{url} did not come up; see {self.tmp}")

    def wait_ready(self, timeout: float = 120) -> None:
        """Until the APIs of the roles running answer."""
        names = {role_of(name) for name in self.procs}
        if names & {"engine", "up"}:
            self.wait_up(f"{self.engine}/v2", timeout)
        if names & {"api", "up"}:
            self.wait_up(f"{self.api}/v1/openapi.json", timeout)

    # -- HTTP --
    @property
    def headers(self) -> dict[str, str]:
        return {"St2-Api-Key": self.key, "X-Auth-Token": self.key} if self.key else {}

    def client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=f"{self.api}/v1", headers={"St2-Api-Key": self.key},
                            timeout=timeout)

    def engine_client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=f"{self.engine}/v2", headers=self.headers,
                            timeout=timeout)

    def run(self, ref: str, **parameters: Any) -> dict[str, Any]:
        with self.client() as client:
            answer = client.post("/executions", json={"action": ref,
                                                      "parameters": parameters})
        assert answer.status_code == 201, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def get(self, execution_id: str) -> dict[str, Any]:
        with self.client() as client:
            answer = client.get(f"/executions/{execution_id}")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def children(self, execution_id: str) -> list[dict[str, Any]]:
        with self.client() as client:
            found: list[dict[str, Any]] = client.get(
                f"/executions/{execution_id}/children", params={"depth": 1}).json()
        return found

    def wait(self, execution_id: str, statuses: frozenset[str] = DONE,
             timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.get(execution_id)
            if found["status"] in statuses:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{execution_id} still {found['status']}; see {self.tmp}")
            time.sleep(0.05)

    def levante(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = clean_environ(LEVANTE_API_URL=self.api, LEVANTE_API_KEY=self.key)
        return subprocess.run([levante_bin("levante"), *args], capture_output=True, text=True,
                              env=env, timeout=120)


def start_system(tmp: Path, kind: str = "sqlite", roles: Sequence[str] = ROLES, *,
                 split: bool = False, packs: Path | None = None,
                 options: Sections | None = None, engine_options: Sections | None = None,
                 platform_options: Sections | None = None, register_packs: bool = True,
                 strict_packs: bool = True,
                 env: Mapping[str, str] | None = None, server_url: str = "",
                 databases: Sequence[str] = (), wait: bool = True,
                 cls: type[System] = System, **settings: Any) -> System:
    """Levante as processes on `kind` ("sqlite" or "postgres") databases, roles `roles`.

    `split`: the engine roles (engine, notifier) on a database of their own with config
    `<tmp>/engine.conf` (data folder `<tmp>/edata`), the platform's on another with
    `<tmp>/platform.conf` (`<tmp>/pdata`); otherwise one database and `<tmp>/levante.conf`
    (`<tmp>/data`). `options` go to every config file, `engine_options` and
    `platform_options` to the engine's and the platform's (when split). `register_packs`:
    the platform's packs registered and its key made (`System.key`); `strict_packs`: a
    pack file that cannot be registered fails the start. `env`: option
    overrides in the environment of every process. `databases`: the caller's own (empty)
    databases instead of new ones (then not dropped by `close`). `settings`: more fields
    of `System` (`clean_env`, `cwd`, `logs`, `log_suffix`, `commands`). `cls`: a suite's
    subclass of `System` with helpers of its own (`Sub.create(...)` returns it typed). On
    failure to start, what was started is stopped and the databases made are dropped."""
    from levante.contract.signing import generate_secret

    tmp.mkdir(parents=True, exist_ok=True)
    names = ["engine", "platform"] if split else ["levante"]
    urls = list(databases) or new_databases(kind, tmp, names, server_url, migrated=True)
    server = "" if kind == "sqlite" or databases else (
        server_url or os.environ.get(POSTGRES_ENV, ""))
    engine_port, api_port = free_port(), free_port()
    secret = generate_secret()
    confs: dict[str, Path] = {}
    for name, url in zip(names, urls, strict=True):
        data = tmp / {"engine": "edata", "platform": "pdata", "levante": "data"}[name]
        side = {"engine": engine_options, "platform": platform_options}.get(name)
        confs[name] = write_conf(tmp / f"{name}.conf", url, data, engine_port, api_port,
                                 secret, packs, merged(options, side))
    found = cls(tmp, {}, engine_port, api_port, secret=secret, engine_db=urls[0],
                   platform_db=urls[-1],
                   env=dict(env or {}), server_url=server,
                   made=list(urls) if server else [], **settings)
    for role in (*ROLES, *EXTRA_ROLES, "up"):
        found.confs[role] = confs["levante"] if not split else (
            confs["engine"] if role in ENGINE_ROLES else confs["platform"])
    try:
        for url in databases or ():  # the caller's; those made here are at head already
            upgrade(url)
        if register_packs:
            found.key = register(found.confs["api"], strict_packs)
        for role in roles:
            found.start(role)
        if wait:
            found.wait_ready()
    except BaseException:
        found.close()
        raise
    return found
