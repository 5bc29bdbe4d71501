"""A newcomer's first hour: the README followed as written, from a fresh data folder.

`make run` runs `.venv/bin/levante up`; the user reads what it prints, opens a second
terminal (a shell whose PATH has no virtual environment), pastes the lines it printed and
types the README's "Using it" commands. Then stops it and starts it again.
"""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import free_port, levante_bin

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ID = re.compile(r"\b[0-9a-f]{24}\b")


def _readme_commands() -> list[str]:
    """The commands of the README's "Using it" block, as a user would type them."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Using it", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        command = line.split("  #", 1)[0].strip()
        if command and not command.startswith("#"):
            commands.append(command)
    return commands


class Up:
    """`levante up` in the foreground of the "first terminal"."""

    def __init__(self, home: Path, api_port: int, engine_port: int, log: Path) -> None:
        self.log = log
        self.env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                    "PYTHONUNBUFFERED": "1", "LEVANTE_API_PORT": str(api_port),
                    "LEVANTE_ENGINE_PORT": str(engine_port)}
        self.out = log.with_suffix(".out")
        with self.out.open("wb") as out, log.open("wb") as err:
            self.proc = subprocess.Popen([levante_bin("levante"), "up"], stdout=out,
                                         stderr=err, env=self.env, cwd=home)

    def wait_for(self, text: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while True:
            printed = self.out.read_text()
            if text in printed:
                return printed
            assert self.proc.poll() is None, printed + self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, printed
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def _shape(lines: list[str]) -> list[str]:
    """Lines with what differs from run to run (ids, paths, numbers) made alike."""
    shaped = []
    for line in lines:
        line = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "U", line)
        line = re.sub(r"/[^\s\"']*", "P", ID.sub("I", line))
        shaped.append(re.sub(r"\d+(\.\d+)?", "N", line))
    return shaped


def _documented_transcripts() -> list[list[str]]:
    """The startup transcripts in docs/using.md, without the command and the ^C."""
    text = (ROOT / "docs" / "using.md").read_text(encoding="utf-8")
    blocks = text.split("## The `levante` CLI", 1)[0].split("```\n")[1::2]
    return [[line.removeprefix("^C") for line in block.splitlines()
             if line not in ("$ make run", ".venv/bin/levante up")] for block in blocks]


def _hint(printed: str) -> list[str]:
    """The lines `levante up` says to paste into another terminal."""
    after = printed.split("Use the CLI from another terminal", 1)[1].splitlines()[1:]
    lines = []
    for line in after:
        if not line.startswith("  "):
            break
        lines.append(line.strip())
    return lines


def _second_terminal(home: Path, setup: list[str], command: str,
                     columns: int | None = None) -> subprocess.CompletedProcess[str]:
    """A new shell: the pasted lines, then the command; on a terminal when `columns`."""
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    script = "\n".join([*setup, command])
    if columns is None:
        return subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                              env=env, cwd=home, timeout=60)
    primary, secondary = pty.openpty()
    env.update(COLUMNS=str(columns), LINES="50", TERM="xterm")
    proc = subprocess.Popen(["bash", "-c", script], stdin=secondary, stdout=secondary,
                            stderr=secondary, env=env, cwd=home)
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(primary)
    proc.wait(60)
    text = ANSI.sub("", b"".join(chunks).decode()).replace("\r", "")
    return subprocess.CompletedProcess(proc.args, proc.returncode, text, "")


def test_first_hour_follows_the_readme(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    api_port, engine_port = free_port(), free_port()
    up = Up(home, api_port, engine_port, tmp_path / "up1.log")
    try:
        printed = up.wait_for("  see it: levante execution get")
        printed = up.wait_for("Engine API (Mistral v2)", timeout=10)
        example_id = printed.split("Example workflow examples.hello_chain: execution ")[1][:24]
        hint = _hint(printed)
        venv_bin = str(Path(levante_bin("levante")).parent)
        assert hint[0] == f"export PATH={venv_bin}:\"$PATH\"", hint
        # the data folder is the default one, so only the picked API port needs saying
        assert hint[1] == f"export LEVANTE_API_URL=http://127.0.0.1:{api_port}", hint
        assert hint[-1] == "levante execution list"
        hint = hint[:-1]  # the lines to paste; the last one is an example command

        # Without the printed lines, a second terminal has no `levante` (the stumble).
        bare = _second_terminal(home, [], "levante execution list")
        assert bare.returncode == 127

        # The README's commands, typed as written, after pasting the printed lines.
        commands = _readme_commands()
        assert commands[0] == 'export PATH="$PWD/.venv/bin:$PATH"'
        if Path(venv_bin) == ROOT / ".venv" / "bin":  # (the checkout's own venv, as make makes)
            found = subprocess.run(["bash", "-c", f"{commands[0]}; command -v levante"],
                                   capture_output=True, text=True, cwd=ROOT,
                                   env={"PATH": "/usr/bin:/bin"}, timeout=30)
            assert found.stdout.strip() == f"{venv_bin}/levante"
        commands = commands[1:]
        assert commands[0] == "levante run core.local cmd=uptime"
        assert "levante execution list" in commands
        outputs = {}
        for command in commands:
            done = _second_terminal(home, hint, command.replace("<id>", example_id))
            assert done.returncode == 0, (command, done.stdout, done.stderr)
            outputs[command.split(" <", 1)[0]] = done.stdout
        assert "status: succeeded" in outputs["levante run core.local cmd=uptime"]
        assert "load average" in outputs["levante run core.local cmd=uptime"]
        assert f"Execution {example_id}" in outputs["levante execution trace"]
        assert "Required parameters:" in outputs["levante run core.local -h"]

        # The list: full ids, top-level executions only; -l shows the workflows' children.
        listed = outputs["levante execution list"]
        ids = ID.findall(listed)
        # the example, the README's two runs (core.local -h runs nothing)
        assert example_id in ids and len(ids) == 3, listed
        assert "core.echo" not in listed and "engine" not in listed
        everything = _second_terminal(home, hint, "levante execution list -l -j")
        children = [e for e in json.loads(everything.stdout) if e.get("parent")]
        # (children run as the user who started their workflow: the first key's owner)
        starters = {e["context"]["user"] for e in json.loads(everything.stdout)
                    if e["id"] == example_id}
        assert len(children) == 10
        assert {c["context"]["user"] for c in children} == starters != {"engine"}
        # on an 80-column terminal the ids are still whole, and no line is wider
        narrow = _second_terminal(home, hint, "levante execution list", columns=80)
        lines = [line for line in narrow.stdout.splitlines() if line.strip()]
        assert all(len(line) <= 80 for line in lines), narrow.stdout
        assert set(ID.findall(narrow.stdout)) == set(ids), narrow.stdout
        assert "…" not in narrow.stdout

        # The help of an action: its parameters, as `st2 run core.local -h` shows them.
        helped = _second_terminal(home, hint, "levante run core.local -h")
        assert helped.returncode == 0, helped.stderr
        text = helped.stdout
        assert text.index("Required parameters:") < text.index("  cmd") < \
            text.index("Optional parameters:") < text.index("  timeout")
        assert "Type: integer" in text and "Default: 60" in text
        assert "The command line to run" in text
        typo = _second_terminal(home, hint, "levante run core.lcoal cmd=uptime")
        assert typo.returncode == 2 and "Did you mean core.local" in typo.stderr

        # First use of SSH (a host that refuses): no third-party warning in the log.
        ssh = _second_terminal(home, hint,
                               f"levante run core.remote hosts=127.0.0.1 port={free_port()}"
                               " cmd=true -j")
        assert ssh.returncode == 1 and json.loads(ssh.stdout)["status"] == "failed"
    finally:
        up.stop()
    # The transcript in the docs is this one (but for ids, paths, ports and times).
    first_doc, second_doc = _documented_transcripts()
    assert len(first_doc) > 20 and len(second_doc) > 8
    real = [line for line in up.out.read_text().splitlines()
            if not line.startswith("  export LEVANTE_")]  # (the test picked the ports)
    assert _shape(real) == _shape(first_doc)
    log = up.log.read_text()
    assert "Warning" not in log and "warnings.warn" not in log, log[-3000:]
    assert up.proc.returncode == 0

    # A second start: the example does not run again, and it says how to run it.
    again = Up(home, api_port, engine_port, tmp_path / "up2.log")
    try:
        printed = again.wait_for("Levante is running")
        assert "Example workflow examples.hello_chain: execution" not in printed
        assert f"ran on the first start (execution {example_id})" in printed
        assert "levante up --example" in printed
        assert _hint(printed)[:-1] == hint
        real = [line for line in printed.splitlines() if not line.startswith("  export LEVANTE_")]
        assert _shape(real) == _shape(second_doc)
        time.sleep(1)
        listed = _second_terminal(home, hint, "levante execution list --action "
                                  "examples.hello_chain -j")
        assert len(json.loads(listed.stdout)) == 2  # the first start's and the README's
    finally:
        again.stop()
