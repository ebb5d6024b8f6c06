"""``python -m benchmarks --profile NAME``: where a gateway's CPU goes under a scenario.

Each ``waport serve`` the scenario starts is sampled by py-spy from outside (no change
to the process, so its own figures still mean what they say, a few percent slower).
The samples are kept as folded stacks, one line per stack with its count (open them in
speedscope or ``flamegraph.pl`` for a flame graph), and summarised as a table: the
functions holding the most samples, counted once per stack they appear in (inclusive)
and where they were on top (self).

asyncpg's protocol and the event loop are compiled: their time shows against the
Python line that awaited them (``Connection._do_execute``, ``Runner.run``). On uvloop
a task's stack starts at the coroutine the loop resumed, not at ``main``: the self
column is exact, the inclusive one counts within what was resumed.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FOLDER = "WAPORT_BENCH_PROFILE"
"""The environment variable naming the folder the samples go to; profiling is on
while it is set (``procs.gateway`` reads it)."""
RATE = 200
"""Samples a second."""


@contextmanager
def sampled(pid: int) -> Iterator[None]:
    """Sample process ``pid`` while the block runs, if profiling is on."""
    folder = os.environ.get(FOLDER)
    if not folder:
        yield
        return
    out = Path(folder) / f"gateway-{pid}.folded"
    spy = shutil.which("py-spy")
    if spy is None:
        out.with_suffix(".error").write_text("py-spy is not installed (pip install py-spy)\n")
        yield
        return
    command = [spy, "record", "--pid", str(pid), "--rate", str(RATE), "--nonblocking"]
    process = subprocess.Popen(
        [*command, "--format", "raw", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)  # py-spy writes what it has and ends
        try:
            _, errors = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, errors = process.communicate()
        if not out.exists():
            out.with_suffix(".error").write_text(errors or "py-spy wrote nothing\n")


def _function(frame: str) -> str:
    """``name (path/to/file.py:12)`` as ``name (file.py)``: one row per function."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit('/', 1)[-1].split(':')[0]})" if where else name


def table(folder: Path, *, top: int = 30) -> str:
    """The top functions of every profile in ``folder``, as a Markdown table each."""
    parts = [
        f"{error.stem}: not sampled: {error.read_text().strip()}"
        for error in sorted(folder.glob("*.error"))
    ]
    for path in sorted(folder.glob("*.folded")):
        inclusive: collections.Counter[str] = collections.Counter()
        alone: collections.Counter[str] = collections.Counter()
        total = 0
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = [_function(f) for f in stack.split(";")]
            alone[frames[-1]] += n
            for function in set(frames):
                inclusive[function] += n
        rows = [f"{path.stem}: {total} samples at {RATE}/s"]
        for title, order in (("inclusive", inclusive), ("self", alone)):
            rows += ["", f"most {title}:", "", "| inclusive | self | function |", "|---:|---:|---|"]
            for function, _ in order.most_common(top):
                share = 100 * inclusive[function] / max(total, 1)
                own = 100 * alone[function] / max(total, 1)
                rows.append(f"| {share:.1f} % | {own:.1f} % | `{function}` |")
        parts.append("\n".join(rows))
    return "\n\n".join(parts) if parts else f"no profile in {folder}"
