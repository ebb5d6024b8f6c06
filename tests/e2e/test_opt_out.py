"""STOP is honoured (issue 25), over real HTTP against a real ``waport serve`` on the
sandbox: a contact who writes "stop" is not sent marketing (422
``RECIPIENT_OPTED_OUT``; one failed row in a broadcast) but still gets a utility
template; the confirmation goes back in the window; "START" opens it again; the
webhook receiver hears ``contact.opted_out`` and ``contact.opted_in``; the opt-out
survives a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .conftest import Receiver, Server, wait_for, waport_serve, webhook_receiver

pytestmark = pytest.mark.anyio
ANA, BEN, CARLA = "255712345001", "255712345002", "255712345003"
SALE = {"name": "spring_sale", "language": "en_US", "params": ["Ana"]}
ORDER = {"name": "order_update", "language": "en_US", "params": ["Ana", "#42"]}
CONFIRMATION = "You will not get offers from us any more. Write START to get them again."


async def _post(
    http: aiohttp.ClientSession, gateway: Server, path: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    async with http.post(gateway.base + path, json=body) as r:
        return r.status, await r.json()


async def _says(http: aiohttp.ClientSession, gateway: Server, who: str, text: str) -> None:
    status, answer = await _post(http, gateway, "/v1/sandbox/inbound", {"from": who, "text": text})
    assert status == 200, answer


async def _event(receiver: Receiver, kind: str, contact: str, count: int = 1) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def arrived() -> bool:
        found[:] = [
            e["data"]
            for e in receiver.events()
            if e["type"] == kind and e["data"]["contact"] == contact
        ]
        return len(found) >= count

    await wait_for(arrived)
    return found[-1]


async def test_stop_blocks_marketing_only_until_start(tmp_path: Path) -> None:
    async with webhook_receiver() as receiver:
        env = {"WAPORT_WEBHOOK_URL": receiver.url, "WAPORT_OPT_OUT_REPLY": CONFIRMATION}
        with waport_serve(tmp_path, env) as gateway:
            key = gateway.key
            root = {"Authorization": f"Bearer {key}"}
            async with aiohttp.ClientSession(headers=root) as http:
                await _says(http, gateway, ANA, "  Stop! ")
                said = await _event(receiver, "contact.opted_out", ANA)
                assert said["opted_out"] is True
                assert said["text"] == "  Stop! "

                status, refused = await _post(
                    http,
                    gateway,
                    "/v1/messages",
                    {"to": ANA, "sender_id": "sandbox-sender", "template": SALE},
                )
                assert (status, refused["error"]["code"], refused["error"]["param"]) == (
                    422,
                    "RECIPIENT_OPTED_OUT",
                    "to",
                )
                status, sent = await _post(
                    http,
                    gateway,
                    "/v1/messages",
                    {"to": ANA, "sender_id": "sandbox-sender", "template": ORDER},
                )
                assert status == 200, sent  # a utility template still goes

                recipients = [{"to": who} for who in (ANA, BEN, CARLA)]
                status, broadcast = await _post(
                    http,
                    gateway,
                    "/v1/broadcasts",
                    {"template": SALE, "sender_id": "sandbox-sender", "recipients": recipients},
                )
                assert status == 207, broadcast
                failed = [r for r in broadcast["data"]["results"] if r["status"] == "failed"]
                assert [(r["to"], r["error"]["code"]) for r in failed] == [
                    (ANA, "RECIPIENT_OPTED_OUT")
                ]
                assert broadcast["data"]["summary"]["failed"] == 1

                # "stop all" again changes nothing: no second event; "start" opens it
                await _says(http, gateway, ANA, "stop all")
                await _says(http, gateway, ANA, "START")
                back = await _event(receiver, "contact.opted_in", ANA)
                assert back["opted_out"] is False
                status, sale = await _post(
                    http,
                    gateway,
                    "/v1/messages",
                    {"to": ANA, "sender_id": "sandbox-sender", "template": SALE},
                )
                assert status == 200, sale

                await _says(http, gateway, BEN, "unsubscribe")
                await _event(receiver, "contact.opted_out", BEN)
            log = gateway.stop()
        assert "Traceback" not in log
        opted_out = [e for e in receiver.events() if e["type"] == "contact.opted_out"]
        assert sorted(e["data"]["contact"] for e in opted_out) == [ANA, BEN]

        # the opt-out outlives a restart
        with waport_serve(tmp_path, env, key=key) as gateway:
            root = {"Authorization": f"Bearer {key}"}
            async with aiohttp.ClientSession(headers=root) as http:
                status, refused = await _post(
                    http,
                    gateway,
                    "/v1/messages",
                    {"to": BEN, "sender_id": "sandbox-sender", "template": SALE},
                )
                assert (status, refused["error"]["code"]) == (422, "RECIPIENT_OPTED_OUT")
                confirmed = await _confirmations(http, gateway, receiver)
            gateway.stop()
    assert sorted(confirmed) == [ANA, BEN]  # once each, as a text in the window


async def _confirmations(
    http: aiohttp.ClientSession, gateway: Server, receiver: Receiver
) -> list[str]:
    """Who got the opt-out confirmation (a sent message whose text is it)."""
    sent = {e["data"]["message_id"] for e in receiver.events() if e["type"] == "message.sent"}
    found = []
    for message_id in sorted(sent):
        async with http.get(f"{gateway.base}/v1/messages/{message_id}") as r:
            view = (await r.json())["data"]
        if CONFIRMATION in str(view):
            found.append(view["to"])
    return found
