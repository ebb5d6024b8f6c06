"""Tenants on PostgreSQL with two ``waport serve`` processes sharing the database (issue
26): what one gateway creates, the other serves; a workspace's key sees only its own
through either; and concurrent sends of one prepaid workspace through both never
overdraw it: exactly as many go as the balance pays for, and the ledger adds up."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from .conftest import Server, drop_schema, waport_serve

pytestmark = pytest.mark.anyio
HELLO = {"name": "hello_world", "language": "en_US"}  # a UTILITY template


@pytest.fixture
def two_gateways(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Server, Server, str]]:
    schema = f"tenants{os.getpid()}"
    env = {
        "WAPORT_DATABASE": postgres_url,
        "WAPORT_POSTGRES_SCHEMA": schema,
        "WAPORT_RATE_LIMIT_PER_MINUTE": "1000000",
        "WAPORT_PRICES": "UTILITY=10",
        "WAPORT_LOOKUP_CACHE_SECONDS": "0",
    }
    with ExitStack() as stack:
        first = stack.enter_context(waport_serve(_folder(tmp_path, "gw1"), env))
        second = stack.enter_context(waport_serve(_folder(tmp_path, "gw2"), env, key=first.key))
        try:
            yield first, second, schema
        finally:
            anyio.run(drop_schema, postgres_url, schema)


def _folder(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir()
    return folder


async def _call(
    http: aiohttp.ClientSession,
    gateway: Server,
    key: str,
    method: str,
    path: str,
    *,
    body: Any = None,
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    async with http.request(method, gateway.base + path, json=body, headers=headers) as r:
        return r.status, await r.json()


async def test_two_gateways_share_tenants_and_never_overdraw(
    two_gateways: tuple[Server, Server, str],
) -> None:
    first, second, _ = two_gateways
    operator = first.key
    async with aiohttp.ClientSession() as http:
        keys = {}
        for name, gateway in (("acme", first), ("shop", second)):
            status, made = await _call(
                http,
                gateway,
                operator,
                "POST",
                "/v1/workspaces",
                body={"id": name, "billing": "prepaid"},
            )
            assert status == 201, made
            keys[name] = made["data"]["admin_key"]["key"]
        # what one gateway made, the other serves
        for name, gateway in (("acme", second), ("shop", first)):
            status, added = await _call(
                http, gateway, keys[name], "POST", "/v1/senders", body={"id": f"{name}-1"}
            )
            assert status == 201, added
        status, taken = await _call(
            http, first, keys["shop"], "POST", "/v1/senders", body={"id": "acme-1"}
        )
        assert (status, taken["error"]["code"]) == (409, "SENDER_IN_USE")
        status, credited = await _call(
            http,
            second,
            operator,
            "POST",
            "/v1/workspaces/acme/balance",
            body={"amount": 100, "reason": "top-up"},
        )
        assert credited["data"]["balance"] == 100

        # 30 sends of 10 each at once, through both gateways: 10 go, 20 are refused
        answers: list[int] = []

        async def send(n: int) -> None:
            gateway = first if n % 2 else second
            status, _ = await _call(
                http,
                gateway,
                keys["acme"],
                "POST",
                "/v1/messages",
                body={"to": f"2557180{n:05d}", "template": HELLO},
            )
            answers.append(status)

        async with anyio.create_task_group() as tg:
            for n in range(30):
                tg.start_soon(send, n)
        assert sorted(answers) == [200] * 10 + [402] * 20
        status, workspace = await _call(http, first, keys["acme"], "GET", "/v1/workspaces/acme")
        assert workspace["data"]["balance"] == 0
        status, ledger = await _call(
            http, second, keys["acme"], "GET", "/v1/workspaces/acme/ledger?limit=200"
        )
        assert sum(e["amount"] for e in ledger["data"]) == 0
        assert len([e for e in ledger["data"] if e["kind"] == "debit"]) == 10

        # each key sees its own only, through either gateway
        for gateway in (first, second):
            status, listed = await _call(http, gateway, keys["shop"], "GET", "/v1/messages")
            assert listed["data"] == []
            status, listed = await _call(
                http, gateway, keys["acme"], "GET", "/v1/messages?limit=200"
            )
            assert len(listed["data"]) == 10
            status, senders = await _call(http, gateway, keys["shop"], "GET", "/v1/senders")
            assert [s["id"] for s in senders["data"]] == ["shop-1"]
    for gateway in (first, second):
        log = await anyio.to_thread.run_sync(gateway.stop)
        assert "Traceback" not in log
