"""The CPU accounting the benchmarks report (``benchmarks.procs``), read from ``/proc``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import procs

_BURN = (
    "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass\n"
)
_PARENT = (
    "import subprocess, sys, time\n"
    # one child burns and ends (the parent reaps it), another burns and stays
    "subprocess.run([sys.executable, '-c', {ended!r}], check=True)\n"
    "stay = subprocess.Popen([sys.executable, '-c', {stays!r} + 'time.sleep(30)'])\n"
    "print('ready', flush=True)\n"
    "time.sleep(30)\n"
)


def test_a_tree_counts_its_children_running_and_ended() -> None:
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _PARENT.format(ended=_BURN.format(seconds=0.3), stays=_BURN.format(seconds=0.3) + "\n"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        start = procs.tree_cpu_seconds(parent.pid)
        assert parent.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 20  # however busy the machine, the child burns
        while (spent := procs.tree_cpu_seconds(parent.pid) - start) < 0.5:
            assert time.monotonic() < deadline, f"only {spent} s counted"
            time.sleep(0.05)
        own = procs.cpu_seconds(parent.pid)
    finally:
        for child in Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split():
            os.kill(int(child), signal.SIGKILL)
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
    assert own < spent  # the children's 0.3 s each, not the parent's own


def test_the_machine_counts_what_any_process_spends() -> None:
    before = procs.machine_busy_seconds()
    subprocess.run([sys.executable, "-c", _BURN.format(seconds=0.3)], check=True)
    assert procs.machine_busy_seconds() - before >= 0.25
