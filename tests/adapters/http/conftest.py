"""An in-process gateway (memory store, sandbox, fake clock) served over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from waport.domain.records import SCOPES
from waport.testing import FakeClock
from waport_http import auth, config
from waport_http.server import Running, open_gateway


@attrs.define
class Harness:
    running: Running
    clock: FakeClock
    base: str
    http: aiohttp.ClientSession
    admin: str

    def headers(self, key: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin}", **extra}

    async def key(
        self,
        scopes: set[str],
        *,
        senders: set[str] | None = None,
        rate: int | None = None,
        workspace: str = "default",
    ) -> str:
        new = auth.issue(
            workspace_id=workspace,
            scopes=frozenset(scopes),
            now=self.clock.now(),
            pepper=None,
            senders=frozenset(senders) if senders is not None else None,
            rate_per_minute=rate,
        )
        await self.running.store.api_keys.add(new.record)
        return new.secret

    async def post(
        self, path: str, body: Any, *, key: str | None = None, **headers: str
    ) -> tuple[int, Any, Any]:
        async with self.http.post(
            self.base + path, json=body, headers=self.headers(key, **headers)
        ) as r:
            return r.status, await r.json(content_type=None), r.headers

    async def get(self, path: str, *, key: str | None = None) -> tuple[int, Any, Any]:
        async with self.http.get(self.base + path, headers=self.headers(key)) as r:
            return r.status, await r.json(content_type=None), r.headers


@asynccontextmanager
async def open_harness(
    env: dict[str, str] | None = None, *, background: bool = False
) -> AsyncIterator[Harness]:
    """``background``: run the dispatcher and the webhook relay too, as ``waport serve`` does."""
    clock = FakeClock()
    loaded = config.load(
        None, {"WAPORT_DATABASE": "memory:", "WAPORT_PROVIDER": "sandbox", **(env or {})}
    )
    async with open_gateway(loaded, clock=clock, background=background) as running:
        server = TestServer(running.app, host="127.0.0.1")
        await server.start_server()
        try:
            async with aiohttp.ClientSession() as http:
                admin = await _admin(running, clock)
                yield Harness(
                    running=running,
                    clock=clock,
                    base=str(server.make_url("")).rstrip("/"),
                    http=http,
                    admin=admin,
                )
        finally:
            await server.close()


async def _admin(running: Running, clock: FakeClock) -> str:
    new = auth.issue(workspace_id="default", scopes=frozenset(SCOPES), now=clock.now(), pepper=None)
    await running.store.api_keys.add(new.record)
    return new.secret


@pytest.fixture
async def gw() -> AsyncIterator[Harness]:
    async with open_harness() as harness:
        yield harness


@asynccontextmanager
async def receiver() -> AsyncIterator[
    tuple[str, list[tuple[dict[str, str], bytes]], Callable[[int], None]]
]:
    """A webhook receiver on 127.0.0.1 that records deliveries; ``answer(status)`` scripts its reply."""
    seen: list[tuple[dict[str, str], bytes]] = []
    replies: list[int] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append((dict(request.headers), await request.read()))
        return web.Response(status=replies.pop(0) if replies else 200)

    app = web.Application()
    app.router.add_post("/hook", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/hook")), seen, replies.append
    finally:
        await server.close()
