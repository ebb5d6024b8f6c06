"""A real ``waport serve`` on a free loopback port, with its first-start admin key."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import attrs

_KEY = re.compile(r"WAPORT_KEY=(\S+)")
_LISTENING = re.compile(r"listening on (http://\S+)")


@attrs.frozen
class Gateway:
    """A running gateway: its base URL, the operator's admin key and its log."""

    url: str
    admin_key: str = attrs.field(repr=False)
    log: Path
    database: Path
    process: subprocess.Popen[bytes] = attrs.field(repr=False, eq=False)

    @property
    def headers(self) -> dict[str, str]:
        """The admin key as the ``Authorization`` header every ``/v1`` call needs."""
        return {"Authorization": f"Bearer {self.admin_key}"}

    def output(self) -> str:
        """Everything the gateway has printed so far."""
        return self.log.read_text(errors="replace")


@contextmanager
def running_gateway(
    folder: Path, env: Mapping[str, str] | None = None, *, start_timeout: float = 30.0
) -> Iterator[Gateway]:
    """Run ``waport serve`` in ``folder`` (its SQLite database and log live there) on the
    sandbox, with its embedded defaults and ``env`` on top (``WAPORT_*`` settings); stop
    it on exit. Variables ``WAPORT_*`` of this process are not passed on."""
    log = folder / "waport.log"
    database = folder / "waport.db"
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WAPORT_")},
        "PYTHONPATH": os.pathsep.join(sys.path),
        "WAPORT_LISTEN": "127.0.0.1:0",
        "WAPORT_DATABASE": str(database),
        **(env or {}),
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "waport_http.cli", "serve"],
            cwd=folder,
            env=environ,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        url, key = _wait_until_listening(process, log, start_timeout)
        yield Gateway(url=url, admin_key=key, log=log, database=database, process=process)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_listening(
    process: subprocess.Popen[bytes], log: Path, limit: float
) -> tuple[str, str]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        listening, key = _LISTENING.search(text), _KEY.search(text)
        if listening is not None:
            if key is None:
                raise RuntimeError(
                    f"the gateway printed no admin key (not a fresh database?):\n{text}"
                )
            return listening.group(1), key.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"waport serve exited with {process.returncode}:\n{text}")
        time.sleep(0.05)  # noqa: TID251 - a synchronous harness: the test waits for its gateway
    raise RuntimeError(f"waport serve did not listen within {limit} s:\n{log.read_text()}")
