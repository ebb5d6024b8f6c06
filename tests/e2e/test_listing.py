"""``GET /v1/messages`` over real HTTP against a real ``waport serve`` (issue 25): a
cursor walk over 1,000 messages shows each exactly once while 200 more arrive during
the walk, and every filter narrows the list as it says."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .conftest import Server, waport_serve

pytestmark = pytest.mark.anyio
ENV = {"WAPORT_RATE_LIMIT_PER_MINUTE": "1000000"}
ANA, BEN = "255712340001", "255712340002"
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


async def _send(http: aiohttp.ClientSession, gateway: Server, body: dict[str, Any]) -> str:
    async with http.post(gateway.base + "/v1/messages", json=body) as r:
        answer = await r.json()
        assert r.status in (200, 202), answer
        return str(answer["data"]["message_id"])


async def _list(
    http: aiohttp.ClientSession, gateway: Server, **params: str
) -> tuple[list[dict[str, Any]], str | None]:
    async with http.get(gateway.base + "/v1/messages", params=params) as r:
        answer = await r.json()
        assert r.status == 200, answer
        return answer["data"], answer["next_cursor"]


async def _ids(http: aiohttp.ClientSession, gateway: Server, **params: str) -> list[str]:
    rows, _ = await _list(http, gateway, **params)
    return [row["message_id"] for row in rows]


async def test_a_cursor_walk_shows_each_message_once_while_more_arrive(tmp_path: Path) -> None:
    with waport_serve(tmp_path, ENV) as gateway:
        root = {"Authorization": f"Bearer {gateway.key}"}
        async with aiohttp.ClientSession(headers=root) as http:
            await http.post(gateway.base + "/v1/sandbox/inbound", json={"from": ANA, "text": "hi"})
            gate = asyncio.Semaphore(16)

            async def one(n: int) -> str:
                async with gate:
                    return await _send(http, gateway, {"to": ANA, "text": f"message {n}"})

            first = await asyncio.gather(*(one(n) for n in range(999)))
            walked: list[str] = []
            cursor: str | None = None
            pages = 0
            while True:
                params = {"limit": "50"} | ({"cursor": cursor} if cursor else {})
                rows, cursor = await _list(http, gateway, **params)
                walked += [row["message_id"] for row in rows]
                pages += 1
                if cursor is None:
                    break
                if pages <= 20:  # 200 more arrive during the walk
                    await asyncio.gather(*(one(1000 + pages * 10 + k) for k in range(10)))
        log = gateway.stop()
    counts = Counter(walked)
    assert max(counts.values()) == 1  # nothing shown twice
    expected = {*first}
    assert expected <= set(walked)  # every message there before the walk, once
    assert len(expected) == 999
    assert len(walked) >= 1000  # the 999 sends and the inbound "hi"
    assert "Traceback" not in log


async def test_every_filter_narrows_the_list(tmp_path: Path) -> None:
    with waport_serve(tmp_path, ENV) as gateway:
        root = {"Authorization": f"Bearer {gateway.key}"}
        async with aiohttp.ClientSession(headers=root) as http:
            for who in (ANA, BEN):
                await http.post(
                    gateway.base + "/v1/sandbox/inbound", json={"from": who, "text": "hello"}
                )
            text_ana = await _send(http, gateway, {"to": ANA, "text": "hi Ana"})
            photo_ben = await _send(http, gateway, {"to": BEN, "media": {"data": PNG}})
            middle = datetime.now(UTC).isoformat()
            async with http.post(
                gateway.base + "/v1/broadcasts",
                json={
                    "template": {"name": "hello_world", "language": "en_US"},
                    "sender_id": "sandbox-sender",
                    "recipients": [{"to": ANA}, {"to": BEN}],
                },
            ) as r:
                broadcast = (await r.json())["data"]
            rows = [row["message_id"] for row in broadcast["results"]]

            everything = await _ids(http, gateway)
            assert len(everything) == 6
            assert set(everything[:2]) == set(rows)  # newest first
            inbound = await _ids(http, gateway, direction="inbound")
            assert len(inbound) == 2
            ana = await _ids(http, gateway, contact="+255 712 340 001")
            assert text_ana in ana
            assert photo_ben not in ana
            assert len(ana) == 3  # her "hello", the text, her broadcast row
            assert await _ids(http, gateway, mode="media") == [photo_ben]
            assert set(await _ids(http, gateway, mode="template")) == set(rows)
            assert set(await _ids(http, gateway, broadcast_id=broadcast["broadcast_id"])) == set(
                rows
            )
            assert set(await _ids(http, gateway, since=middle)) == set(rows)
            assert photo_ben in await _ids(http, gateway, until=middle)
            assert len(await _ids(http, gateway, sender_id="sandbox-sender")) == 6
            assert await _ids(http, gateway, sender_id="nobody") == []
            delivered = await _ids(http, gateway, status="delivered", direction="inbound")
            assert len(delivered) == 2
            rows_one, cursor = await _list(http, gateway, limit="1")
            assert len(rows_one) == 1
            assert cursor is not None
            for bad, param in (({"limit": "0"}, "limit"), ({"mode": "fax"}, "mode")):
                async with http.get(gateway.base + "/v1/messages", params=bad) as r:
                    refused = await r.json()
                assert (r.status, refused["error"]["param"]) == (400, param)
        log = gateway.stop()
    assert "Traceback" not in log
