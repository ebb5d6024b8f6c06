"""End-to-end fixtures: a real ``waport serve`` process on 127.0.0.1 and a webhook receiver."""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def rss_kib(pid: int) -> int:
    """A process's resident memory, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@attrs.define
class Server:
    process: subprocess.Popen[str]
    base: str
    key: str
    output: list[str]
    drain: threading.Thread | None = None

    def read_on(self) -> None:
        """Go on reading what the gateway prints, on a thread: a pipe nobody reads fills
        up (64 KiB), and then the gateway's next log line blocks its event loop."""

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)

        self.drain = threading.Thread(target=read, daemon=True)
        self.drain.start()

    def stop(self, sig: int = signal.SIGTERM) -> str:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.wait(timeout=30)
        if self.drain is not None:
            self.drain.join(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return "".join(self.output)


def waha_environ(waha_url: str, **extra: str) -> dict[str, str]:
    """A gateway's settings for the WAHA adapter on the fake at ``waha_url``."""
    from waport_web import fake as web_fake

    return {
        "WAPORT_PROVIDER": "web",
        "WAPORT_WEB_URL": waha_url,
        "WAPORT_WEB_API_KEY": web_fake.API_KEY,
        "WAPORT_WEB_HMAC_KEY": web_fake.HMAC_KEY,
        "WAPORT_RATE_LIMIT_PER_MINUTE": "100000",
        **extra,
    }


def child_environ() -> dict[str, str]:
    """The environment for a waport child process: this one's, without the suite's own
    ``WAPORT_*`` switches (a gateway names variables it does not know), with this path."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("WAPORT_")},
        "PYTHONPATH": os.pathsep.join(sys.path),
    }


@contextmanager
def waport_serve(
    folder: Path, env: dict[str, str] | None = None, *, key: str | None = None
) -> Iterator[Server]:
    port = free_port()
    full_env = {
        **child_environ(),
        "WAPORT_LISTEN": f"127.0.0.1:{port}",
        "WAPORT_DATABASE": str(folder / "waport.db"),
        "WAPORT_WEBHOOK_SECRET": SECRET,
        "WAPORT_DISPATCH_INTERVAL_SECONDS": "0.05",
        "WAPORT_SANDBOX_DELIVERED_AFTER_MS": "50",
        "WAPORT_SANDBOX_READ_AFTER_MS": "100",
        **(env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "waport_http.cli", "serve"],
        cwd=folder,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "WAPORT_KEY=" in line:
            key = line.split("WAPORT_KEY=", 1)[1].strip()
        if "listening on" in line:
            break
    else:  # pragma: no cover - a hung start
        process.kill()
        raise AssertionError("waport serve did not start:\n" + "".join(lines))
    assert key is not None, "".join(lines)
    server = Server(process=process, base=f"http://127.0.0.1:{port}", key=key, output=lines)
    server.read_on()
    try:
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            server.stop()


@attrs.define
class Receiver:
    url: str
    deliveries: list[tuple[dict[str, str], bytes]]
    fail_ratio: float = 0.0
    calls: int = 0
    checked: set[str] = attrs.Factory(set)

    def events(self) -> list[dict[str, Any]]:
        """Each event once, every one checked against its schema in the OpenAPI
        document's ``webhooks`` (what a generated client's models expect)."""
        import json

        seen: dict[str, dict[str, Any]] = {}
        for headers, body in self.deliveries:
            seen.setdefault(headers["webhook-id"], json.loads(body))
        for event_id, event in seen.items():
            if event_id not in self.checked:
                assert_documented_event(event)
                self.checked.add(event_id)
        return list(seen.values())


def assert_documented_event(event: dict[str, Any]) -> None:
    _event_validator(event["type"]).validate(event)


@functools.cache
def _event_validator(kind: str) -> Any:
    """The validator of one event type's schema (built once: the document is large, and
    a receiver is polled many times a second)."""
    import jsonschema_rs  # schemathesis's validator

    from waport_http.openapi import openapi_document

    doc = openapi_document()
    post = doc["webhooks"][kind]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    return jsonschema_rs.Draft202012Validator({**schema, "components": doc["components"]})


@asynccontextmanager
async def webhook_receiver(*, fail_first_of_every: int = 0) -> AsyncIterator[Receiver]:
    """Records deliveries; when set, answers 503 to the first attempt of every
    ``fail_first_of_every``-th event (so those arrive on the 5 s retry)."""
    receiver = Receiver(url="", deliveries=[])
    failed_once: set[str] = set()

    async def handle(request: web.Request) -> web.Response:
        receiver.calls += 1
        body = await request.read()
        event_id = request.headers.get("webhook-id", "")
        if (
            fail_first_of_every
            and receiver.calls % fail_first_of_every == 0
            and event_id not in failed_once
        ):
            failed_once.add(event_id)
            return web.Response(status=503)
        receiver.deliveries.append(({k.lower(): v for k, v in request.headers.items()}, body))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    receiver.url = str(server.make_url("/hook"))
    try:
        yield receiver
    finally:
        await server.close()


async def wait_for(predicate: Any, limit: float = 15.0, interval: float = 0.05) -> None:
    """Poll ``predicate`` (a remote process's state: nothing here to wait on but time)."""
    with anyio.fail_after(limit):
        while not await predicate():  # noqa: ASYNC110 - polling another process
            await anyio.sleep(interval)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def drop_schema(url: str, schema: str) -> None:
    """Drop a PostgreSQL schema a test's gateways used (``WAPORT_POSTGRES_SCHEMA``)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
