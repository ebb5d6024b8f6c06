"""The processes a benchmark runs: the fake Graph API, the gateway, the load generator.

Each is started with ``sys.executable`` so the suite measures the environment it
runs in, waits until it answers, and is stopped (SIGINT, then SIGKILL) on the way
out. CPU and memory are read from ``/proc`` (the suite runs on Linux).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from benchmarks import profile
from benchmarks.library import PHONE_NUMBER_ID, TOKEN, WABA_ID

APP_SECRET = "bench-app-secret"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command's name (which may hold spaces)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and of its children so far, those still running and those it
    has reaped: a PostgreSQL server's postmaster and its backends. Read twice, the
    difference is what the whole server spent in between, even where a backend ended."""
    ticks = sum(int(f) for f in _stat(pid)[11:15])  # utime, stime, cutime, cstime
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            ticks += sum(int(f) for f in _stat(int(child))[11:15])
        except OSError:  # ended meanwhile: counted in cutime at the next read
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time every core of the machine has spent busy so far (``/proc/stat``: all
    but idle and I/O wait), whoever spent it: the gateway, the database, the load
    generator, the fake Graph API."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def running(
    args: list[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, *args],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()


@contextmanager
def fake_graph() -> Iterator[str]:
    """A fake Graph API that answers at once (no request validation, no history)."""
    port = free_port()
    with running(["-m", "waport_meta.fake", "--port", str(port), "--no-validation"]):
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/v25.0/{PHONE_NUMBER_ID}")
        yield url


@attrs.frozen
class Gateway:
    url: str
    key: str
    pid: int
    database: Path


@contextmanager
def gateway(
    folder: Path,
    graph_url: str,
    *,
    max_rps: int = 1000,
    database: str | None = None,
    key: str = "",
    env: Mapping[str, str] | None = None,
) -> Iterator[Gateway]:
    """``waport serve`` with the Meta adapter pointed at ``graph_url``, on a fresh SQLite
    database (durable: ``synchronous=FULL``) unless ``database`` names another (then
    ``key`` is an API key of that database, since only a first start prints one)."""
    port = free_port()
    settings = {
        "WAPORT_PROVIDER": "meta",
        "WAPORT_META_TOKEN": TOKEN,
        "WAPORT_META_PHONE_NUMBER_IDS": PHONE_NUMBER_ID,
        "WAPORT_META_WABA_ID": WABA_ID,
        "WAPORT_META_APP_SECRET": APP_SECRET,
        "WAPORT_META_GRAPH_URL": graph_url,
        "WAPORT_META_MAX_RPS": str(max_rps),
        "WAPORT_RATE_LIMIT_PER_MINUTE": "1000000",
        "WAPORT_LISTEN": f"127.0.0.1:{port}",
        "WAPORT_LOG_LEVEL": "WARNING",
        "WAPORT_DATABASE": database or str(folder / "waport.db"),
        **(env or {}),
    }
    with running(["-m", "waport", "serve"], env=settings, cwd=folder) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if "WAPORT_KEY=" in line:
                key = line.split("=", 1)[1].strip()
            if "listening on" in line:
                break
        else:
            raise RuntimeError("the gateway stopped before it was listening")
        # keep reading what it prints, so a full pipe never stalls it
        threading.Thread(target=process.stdout.read, daemon=True).start()
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/healthz")
        with profile.sampled(process.pid):  # when ``--profile`` asked for it
            yield Gateway(url=url, key=key, pid=process.pid, database=folder / "waport.db")


@contextmanager
def floor_server(kind: str) -> Iterator[Gateway]:
    """``python -m benchmarks.floor_server``: the HTTP server alone, without waport."""
    port = free_port()
    with running(["-m", "benchmarks.floor_server", str(port), kind], cwd=ROOT) as process:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/healthz")
        with profile.sampled(process.pid):
            yield Gateway(url=url, key="none", pid=process.pid, database=Path(os.devnull))


def drain_seconds(database: Path, timeout: float = 60.0) -> float:
    """Seconds until no message in ``database`` is waiting to be sent (read-only)."""
    started = time.monotonic()
    while True:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            (waiting,) = conn.execute(
                "SELECT COUNT(*) FROM messages WHERE status IN ('pending', 'scheduled')"
            ).fetchone()
        finally:
            conn.close()
        elapsed = time.monotonic() - started
        if not waiting:
            return round(elapsed, 2)
        if elapsed > timeout:
            raise RuntimeError(f"{waiting} messages still queued after {timeout} s")
        time.sleep(0.05)


def load(gw: Gateway, *options: str) -> dict[str, Any]:
    """Run the load generator against ``gw``; its JSON summary."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.loadgen",
            gw.url,
            gw.key,
            "--sender",
            PHONE_NUMBER_ID,
            *options,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def library(client: str, graph_url: str, *options: str, module: str = "library") -> dict[str, Any]:
    """One run of ``python -m benchmarks.<module> CLIENT GRAPH_URL OPTIONS``: its JSON line."""
    result = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", client, graph_url, *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))
