"""Choosing the CPU a service process keeps to (`[core] cpu_affinity`): nothing unless
asked; when asked, never two Levante processes on one CPU (a lock file per CPU, held by
real processes here); started processes get every CPU back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from levante import cpu
from levante.config import load_config

MULTI_CPU = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux with two CPUs or more")


def idle(cpus: Iterable[int]) -> dict[int, float]:
    return {c: 0.0 for c in cpus}


def loaded(shares: dict[int, float]) -> Callable[[Iterable[int]], dict[int, float]]:
    return lambda cpus: {c: shares.get(c, 0.0) for c in cpus}


@pytest.fixture
def held() -> Iterator[list[int]]:
    """Descriptors taken by a test, closed at its end (as a process's end would)."""
    fds: list[int] = []
    yield fds
    for fd in fds:
        os.close(fd)


def test_the_default_pins_nothing() -> None:
    assert load_config(environ={}).get_str("core", "cpu_affinity") == "off"


@pytest.mark.parametrize("value", ["off", "none", "", " Off "])
def test_off_changes_nothing(value: str, tmp_path: Path) -> None:
    assert cpu.choose(value, {0, 1}, tmp_path, idle) is None
    assert not list(tmp_path.iterdir())  # not even a lock taken


def test_auto_takes_the_least_busy_cpu(tmp_path: Path, held: list[int]) -> None:
    chosen = cpu.choose("AUTO", {0, 1, 2, 3}, tmp_path, loaded({0: 0.9, 1: 0.5, 2: 0.1,
                                                                 3: 0.7}))
    assert chosen is not None
    held.append(chosen[1])
    assert chosen[0] == 2
    assert cpu.holder(2, tmp_path) == str(os.getpid())


def test_auto_leaves_a_single_cpu_machine_alone(tmp_path: Path) -> None:
    assert cpu.choose("auto", {0}, tmp_path, idle) is None


def test_two_claims_never_share_a_cpu(tmp_path: Path, held: list[int]) -> None:
    """Even when the same CPU is the least busy for both (flock is per open file, so two
    claims in one process stand for two processes)."""
    first = cpu.choose("auto", {0, 1}, tmp_path, idle)
    second = cpu.choose("auto", {0, 1}, tmp_path, idle)
    assert first is not None and second is not None
    held.extend([first[1], second[1]])
    assert {first[0], second[0]} == {0, 1}
    assert cpu.choose("auto", {0, 1}, tmp_path, idle) is None  # every CPU taken: no pin


def test_a_cpu_comes_free_when_its_holder_ends(tmp_path: Path) -> None:
    first = cpu.choose("auto", {0, 1}, tmp_path, idle)
    assert first is not None
    os.close(first[1])  # (what the end of the holding process does)
    again = cpu.choose("auto", {0, 1}, tmp_path, idle)
    assert again is not None
    os.close(again[1])
    assert again[0] == first[0]


def test_a_number_must_be_allowed_and_free(tmp_path: Path, held: list[int]) -> None:
    chosen = cpu.choose("1", {0, 1}, tmp_path, idle)
    assert chosen is not None and chosen[0] == 1
    held.append(chosen[1])
    with pytest.raises(ValueError, match=rf"CPU 1 is already kept by another Levante "
                                         rf"process \(pid {os.getpid()}\)"):
        cpu.choose("1", {0, 1}, tmp_path, idle)
    with pytest.raises(ValueError,
                       match=r"CPU 5 is not one this process may use \(allowed: 0, 1\)"):
        cpu.choose("5", {0, 1}, tmp_path, idle)


def test_anything_else_names_the_option_and_what_it_expects(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\[core\] cpu_affinity: expected off, auto or a "
                                         r"CPU number, got 'fast'"):
        cpu.choose("fast", {0, 1}, tmp_path, idle)


def test_busy_reads_shares_between_zero_and_one() -> None:
    shares = cpu.busy(sorted(os.sched_getaffinity(0)), seconds=0.05)
    assert shares and all(0.0 <= share <= 1.0 for share in shares.values())


def test_an_unpinned_process_gives_children_nothing_to_run() -> None:
    assert cpu.for_children() is None  # (pytest's process was never pinned)


PIN = """
import json, os, subprocess, sys, threading, time
from pathlib import Path
from levante import cpu
before = sorted(os.sched_getaffinity(0))
chosen = cpu.pin_process(sys.argv[1], Path(sys.argv[2]))
seen = {}
t = threading.Thread(target=lambda: seen.update(thread=sorted(os.sched_getaffinity(0))))
t.start(); t.join()
child = subprocess.run(["grep", "Cpus_allowed_list", "/proc/self/status"],
                       capture_output=True, text=True,
                       preexec_fn=cpu.for_children()).stdout.split()[-1]
print(json.dumps({"before": before, "chosen": chosen, "thread": seen["thread"],
                  "child": child, "after": sorted(os.sched_getaffinity(0))}), flush=True)
time.sleep(float(sys.argv[3]))
"""


def _pinned(setting: str, folder: Path, linger: float = 0) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", PIN, setting, str(folder), str(linger)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@MULTI_CPU
def test_pinned_threads_keep_to_one_cpu_and_children_get_every_cpu_back(
        tmp_path: Path) -> None:
    """In a fresh interpreter: after pin_process, new threads inherit the one CPU; a
    process started with `for_children` may use every CPU; this one stays pinned."""
    proc = _pinned("auto", tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    got = json.loads(out)
    chosen = got["chosen"]
    assert chosen in got["before"]
    assert got["thread"] == [chosen]  # a thread started after keeps to the chosen CPU
    assert got["child"] != str(chosen)  # e.g. "0-1": the child may use every CPU
    assert got["after"] == [chosen]  # this process still keeps to its CPU


@MULTI_CPU
def test_living_processes_spread_over_cpus_and_free_them_at_their_end(
        tmp_path: Path) -> None:
    """Real processes with `auto`: while they live, each keeps to a CPU no other keeps
    to; one more than there are CPUs is not pinned; after they end, a CPU is free."""
    count = len(os.sched_getaffinity(0))
    procs = [_pinned("auto", tmp_path, linger=30) for _ in range(count + 1)]
    try:
        chosen = [json.loads(proc.stdout.readline())["chosen"] for proc in procs
                  if proc.stdout is not None]
    finally:
        for proc in procs:
            proc.kill()
            proc.communicate(timeout=30)
    pinned = [c for c in chosen if c is not None]
    assert len(pinned) == count and len(set(pinned)) == count, chosen
    assert chosen.count(None) == 1
    after = _pinned("auto", tmp_path)
    out, err = after.communicate(timeout=60)
    assert json.loads(out)["chosen"] is not None, err
