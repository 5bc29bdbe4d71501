"""Choosing the CPU a service process keeps to (`[core] cpu_affinity`), and giving
started processes every CPU back."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from levante import cpu


def test_auto_picks_one_allowed_cpu_by_process_id() -> None:
    assert cpu.choose("auto", {0, 1, 2, 3}, pid=6) == 2
    assert cpu.choose("auto", {4, 7}, pid=3) == 7
    assert cpu.choose("AUTO", {0, 1}, pid=2) == 0


def test_auto_leaves_a_single_cpu_machine_alone() -> None:
    assert cpu.choose("auto", {0}, pid=5) is None


@pytest.mark.parametrize("value", ["off", "none", "", " Off "])
def test_off_changes_nothing(value: str) -> None:
    assert cpu.choose(value, {0, 1}, pid=1) is None


def test_an_unpinned_process_gives_children_nothing_to_run() -> None:
    assert cpu.for_children() is None  # (pytest's process was never pinned)


def test_a_number_must_be_allowed() -> None:
    assert cpu.choose("1", {0, 1}, pid=9) == 1
    with pytest.raises(ValueError,
                       match=r"CPU 5 is not one this process may use \(allowed: 0, 1\)"):
        cpu.choose("5", {0, 1}, pid=9)


def test_anything_else_names_the_option_and_what_it_expects() -> None:
    with pytest.raises(ValueError, match=r"\[core\] cpu_affinity: expected auto, off or a "
                                         r"CPU number, got 'fast'"):
        cpu.choose("fast", {0, 1}, pid=9)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux with two CPUs or more")
def test_pinned_threads_keep_to_one_cpu_and_children_get_every_cpu_back() -> None:
    """In a fresh interpreter: after pin_process, new threads inherit the one CPU; a
    process started with `for_children` may use every CPU; this one stays pinned."""
    code = """
import json, os, subprocess, threading
from levante import cpu
before = sorted(os.sched_getaffinity(0))
chosen = cpu.pin_process("auto")
seen = {}
t = threading.Thread(target=lambda: seen.update(thread=sorted(os.sched_getaffinity(0))))
t.start(); t.join()
child = subprocess.run(["grep", "Cpus_allowed_list", "/proc/self/status"],
                       capture_output=True, text=True,
                       preexec_fn=cpu.for_children()).stdout.split()[-1]
print(json.dumps({"before": before, "chosen": chosen, "thread": seen["thread"],
                  "child": child, "after": sorted(os.sched_getaffinity(0))}))
"""
    got = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                    text=True, check=True).stdout)
    chosen = got["chosen"]
    assert chosen in got["before"]
    assert got["thread"] == [chosen]  # a thread started after keeps to the chosen CPU
    assert got["child"] != str(chosen)  # e.g. "0-1": the child may use every CPU
    assert got["after"] == [chosen]  # this process still keeps to its CPU
