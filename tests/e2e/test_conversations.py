"""``/v1/conversations`` over real HTTP against a real ``waport serve`` (issue 25): one
row per contact and sender, latest activity first, with the right unread count before
and after mark-read, the window, and the contact's messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .conftest import Server, waport_serve

pytestmark = pytest.mark.anyio
ENV = {"WAPORT_RATE_LIMIT_PER_MINUTE": "1000000"}
ANA, BEN = "255712347001", "255712347002"


async def _call(
    http: aiohttp.ClientSession, gateway: Server, method: str, path: str, body: Any = None
) -> dict[str, Any]:
    async with http.request(method, gateway.base + path, json=body) as r:
        answer: dict[str, Any] = await r.json()
        assert r.status == 200, answer
        return answer


async def _says(http: aiohttp.ClientSession, gateway: Server, who: str, text: str) -> str:
    answer = await _call(http, gateway, "POST", "/v1/sandbox/inbound", {"from": who, "text": text})
    return str(answer["data"]["message_id"])


async def test_conversations_count_unread_until_marked_read(tmp_path: Path) -> None:
    with waport_serve(tmp_path, ENV) as gateway:
        root = {"Authorization": f"Bearer {gateway.key}"}
        async with aiohttp.ClientSession(headers=root) as http:
            said = [await _says(http, gateway, ANA, f"question {n}") for n in range(3)]
            await _says(http, gateway, BEN, "hello")
            await _call(http, gateway, "POST", "/v1/messages", {"to": BEN, "text": "hi Ben"})

            page = await _call(http, gateway, "GET", "/v1/conversations")
            rows = {row["contact"]: row for row in page["data"]}
            assert [row["contact"] for row in page["data"]] == [BEN, ANA]  # latest first
            assert (rows[ANA]["unread"], rows[BEN]["unread"]) == (3, 1)
            assert rows[BEN]["last_message"]["summary"] == "hi Ben"
            assert rows[BEN]["last_message"]["direction"] == "outbound"
            assert rows[ANA]["last_message"]["summary"] == "question 2"
            assert rows[ANA]["window"]["within_window"] is True
            assert rows[ANA]["sender_id"] == "sandbox-sender"

            # marking the second read reads the first: one unread left; then none
            await _call(http, gateway, "POST", f"/v1/messages/{said[1]}/read", {})
            page = await _call(http, gateway, "GET", "/v1/conversations")
            assert {r["contact"]: r["unread"] for r in page["data"]} == {ANA: 1, BEN: 1}
            await _call(http, gateway, "POST", f"/v1/messages/{said[2]}/read", {})
            page = await _call(http, gateway, "GET", "/v1/conversations")
            assert {r["contact"]: r["unread"] for r in page["data"]}[ANA] == 0

            first = await _call(http, gateway, "GET", "/v1/conversations?limit=1")
            assert first["data"][0]["contact"] == BEN
            rest = await _call(
                http, gateway, "GET", f"/v1/conversations?limit=1&cursor={first['next_cursor']}"
            )
            assert [r["contact"] for r in rest["data"]] == [ANA]
            assert rest["next_cursor"] is None

            chat = await _call(http, gateway, "GET", "/v1/conversations/+255%20712%20347%20001")
            assert [m["message_id"] for m in chat["data"]] == said[::-1]
            assert [m["text"] for m in chat["data"]] == ["question 2", "question 1", "question 0"]
        log = gateway.stop()
    assert "Traceback" not in log
