"""``GET /v1/events/stream`` over real HTTP against a real ``waport serve``: a send's
changes arrive live (the message as it is after each batch of changes, so its status
only goes forward: pending, sent, delivered, read) and a contact's reply
too; a reconnect with ``Last-Event-ID`` gets what it missed and nothing before it; an id
from before a restart gets ``reset``; a sender-limited key sees only its senders; the
key is required and an unknown query parameter refused."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from .conftest import Server, waport_serve

pytestmark = pytest.mark.anyio
ENV = {"WAPORT_RATE_LIMIT_PER_MINUTE": "1000000"}
ANA = "255712348001"


async def events(response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """The server-sent events of a response, parsed as the EventSource spec says."""
    fields: dict[str, str] = {}
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if "event" in fields or "data" in fields:
                yield {
                    "event": fields.get("event", "message"),
                    "id": fields.get("id"),
                    "data": json.loads(fields.get("data", "null")),
                }
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


async def until(
    stream: AsyncIterator[dict[str, Any]], done: Any, limit: float = 15.0
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    with anyio.fail_after(limit):
        async for event in stream:
            seen.append(event)
            if done(seen):
                return seen
    raise AssertionError(f"the stream ended: {seen}")


def statuses(seen: list[dict[str, Any]], message_id: str) -> list[str]:
    return [
        e["data"]["status"]
        for e in seen
        if e["event"] == "message" and e["data"]["message_id"] == message_id
    ]


async def _post(http: aiohttp.ClientSession, gateway: Server, path: str, body: Any) -> Any:
    async with http.post(gateway.base + path, json=body) as r:
        answer = await r.json()
        assert r.status in (200, 201, 202), answer
        return answer


async def test_changes_arrive_live_and_a_reconnect_resumes(tmp_path: Path) -> None:
    with waport_serve(tmp_path, ENV) as gateway:
        root = {"Authorization": f"Bearer {gateway.key}"}
        async with aiohttp.ClientSession(headers=root) as http:
            async with http.get(gateway.base + "/v1/events/stream") as r:
                assert r.status == 200
                assert r.headers["Content-Type"].startswith("text/event-stream")
                assert r.headers["X-Request-Id"]
                stream = events(r)
                ready = await until(stream, lambda s: True)
                assert ready[0]["event"] == "ready"

                said = await _post(
                    http, gateway, "/v1/sandbox/inbound", {"from": ANA, "text": "hi there"}
                )
                inbound_id = said["data"]["message_id"]
                sent = await _post(http, gateway, "/v1/messages", {"to": ANA, "text": "hello"})
                message_id = sent["data"]["message_id"]
                seen = await until(stream, lambda s: "read" in statuses(s, message_id))
            got = statuses(seen, message_id)
            # each event is the message as it is then: statuses only go forward, never repeat
            order = ["pending", "sent", "delivered", "read"]
            assert [order.index(s) for s in got] == sorted({order.index(s) for s in got}), got
            assert got[-1] == "read", got
            received = [e for e in seen if e["data"].get("message_id") == inbound_id]
            assert received
            assert received[0]["data"]["direction"] == "inbound"
            assert received[0]["data"]["text"] == "hi there"
            ids = [int(e["id"]) for e in seen]
            assert ids == sorted(ids)  # numbered in order

            # a reconnect from the inbound message's id gets the changes after it only
            resume_from = next(e["id"] for e in seen if e["data"].get("message_id") == inbound_id)
            headers = {"Last-Event-ID": resume_from}
            async with http.get(gateway.base + "/v1/events/stream", headers=headers) as r:
                stream = events(r)
                again = await until(stream, lambda s: "read" in statuses(s, message_id))
            assert again[0]["event"] == "ready"
            assert all(e["data"].get("message_id") != inbound_id for e in again[1:])

            # an id this process never gave (a restart since): reset, reload
            async with http.get(
                gateway.base + "/v1/events/stream", headers={"Last-Event-ID": "99999"}
            ) as r:
                first = await until(events(r), lambda s: True)
            assert first[0]["event"] == "reset"

            for query, status, code in (
                ("?since=1", 400, "VALIDATION_FAILED"),
                ("", 401, "INVALID_API_KEY"),
            ):
                headers = {"Authorization": "Bearer nope"} if status == 401 else {}
                async with http.get(
                    gateway.base + "/v1/events/stream" + query, headers=headers
                ) as r:
                    assert r.status == status
                    assert (await r.json())["error"]["code"] == code
            async with http.get(
                gateway.base + "/v1/events/stream", headers={"Last-Event-ID": "x"}
            ) as r:
                assert r.status == 400
                assert (await r.json())["error"]["param"] == "Last-Event-ID"


async def test_a_sender_limited_key_sees_only_its_senders(tmp_path: Path) -> None:
    with waport_serve(tmp_path, ENV) as gateway:
        root = {"Authorization": f"Bearer {gateway.key}"}
        async with aiohttp.ClientSession(headers=root) as http:
            made = await _post(
                http,
                gateway,
                "/v1/keys",
                {"label": "other", "scopes": ["messages:read"], "senders": ["elsewhere"]},
            )
            limited = {"Authorization": f"Bearer {made['data']['key']}"}
            async with (
                http.get(gateway.base + "/v1/events/stream", headers=limited) as r,
                http.get(gateway.base + "/v1/events/stream") as everything,
            ):
                assert r.status == 200
                theirs, ours = events(r), events(everything)
                await until(theirs, lambda s: True)
                await until(ours, lambda s: True)
                await _post(http, gateway, "/v1/sandbox/inbound", {"from": ANA, "text": "hi"})
                sent = await _post(http, gateway, "/v1/messages", {"to": ANA, "text": "hello"})
                await until(ours, lambda s: "read" in statuses(s, sent["data"]["message_id"]))
                with anyio.move_on_after(1.0) as quiet:
                    await until(theirs, lambda s: True, limit=5)
                assert quiet.cancel_called  # nothing of sandbox-sender reached the limited key
