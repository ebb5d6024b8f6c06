"""The rest of what Meta says, through the public webhook route of a real ``waport
serve`` (issue 27), each from its documented shape: edits, revokes, request_welcome,
orders, unsupported messages and a number change reach ``message.received`` with their
kinds (and the number change carries the contact over); a number's quality and its
account's ban become the sender's health, and a banned account's sends fail at once."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from waport_meta import fake as meta_fake

from .conftest import wait_for, webhook_receiver
from .test_inbound_media import _deliver, _received, meta_gateway

pytestmark = pytest.mark.anyio
CONTACT = "16505551234"
NEW_NUMBER = "12195555358"


def _message(wamid: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"from": CONTACT, "id": wamid, "timestamp": str(int(time.time())), "type": kind} | fields


def _signed(body: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    raw = json.dumps(body, separators=(",", ":")).encode()
    return meta_fake.sign(raw), raw


def _account(field: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": meta_fake.WABA_ID,
                "time": int(time.time()),
                "changes": [{"field": field, "value": value}],
            }
        ],
    }


async def test_the_rest_of_metas_shapes_and_its_account_signals(tmp_path: Path) -> None:
    shapes = [
        _message("wamid.WELCOME", "request_welcome"),
        _message(
            "wamid.EDIT",
            "edit",
            edit={
                "original_message_id": "wamid.ORIG",
                "message": {"type": "text", "text": {"body": "two boxes, not three"}},
            },
        ),
        _message("wamid.REVOKE", "revoke", revoke={"original_message_id": "wamid.ORIG"}),
        _message(
            "wamid.ORDER",
            "order",
            order={"catalog_id": "cat1", "product_items": [{"product_retailer_id": "sku1"}]},
        ),
        _message(
            "wamid.UNSUP",
            "unsupported",
            errors=[{"code": 131051, "title": "Message type unknown"}],
        ),
        _message(
            "wamid.SYSTEM",
            "system",
            system={
                "body": f"User Ana changed from {CONTACT} to {NEW_NUMBER}",
                "wa_id": NEW_NUMBER,
                "type": "user_changed_number",
            },
        ),
    ]
    async with (
        webhook_receiver() as receiver,
        meta_gateway(tmp_path, WAPORT_WEBHOOK_URL=receiver.url) as (gateway, fake),
    ):
        headers = {"Authorization": f"Bearer {gateway.key}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            value = {
                "contacts": [{"profile": {"name": "Ana"}, "wa_id": CONTACT}],
                "messages": shapes,
            }
            await _deliver(http, gateway, _signed(fake.webhook(value)))
            kinds = {
                wamid: (await _received(receiver, wamid))["kind"]
                for wamid in (m["id"] for m in shapes)
            }
            assert kinds == {
                "wamid.WELCOME": "request_welcome",
                "wamid.EDIT": "edited",
                "wamid.REVOKE": "revoked",
                "wamid.ORDER": "order",
                "wamid.UNSUP": "unsupported",
                "wamid.SYSTEM": "system",
            }
            edited = await _received(receiver, "wamid.EDIT")
            assert edited["text"] == "two boxes, not three"
            assert edited["content"]["original_message_id"] == "wamid.ORIG"
            async with http.get(f"{gateway.base}/v1/contacts/+{NEW_NUMBER}") as r:
                moved = (await r.json())["data"]
            assert moved["name"] == "Ana"
            assert moved["attributes"]["previous_number"] == CONTACT

            sender = meta_fake.PHONE_NUMBER_ID
            await _deliver(
                http,
                gateway,
                _signed(
                    _account(
                        "phone_number_quality_update",
                        {"display_phone_number": "15550783881", "event": "FLAGGED"},
                    )
                ),
            )
            await _deliver(
                http,
                gateway,
                _signed(
                    _account(
                        "account_update",
                        {"event": "DISABLED_UPDATE", "ban_info": {"waba_ban_state": "DISABLE"}},
                    )
                ),
            )
            async with http.get(f"{gateway.base}/v1/senders/{sender}") as r:
                health = (await r.json())["data"]["health"]
            assert (health["available"], health["quality"], health["state"]) == (
                False,
                "FLAGGED",
                "DISABLED_UPDATE",
            )
            body = {"to": f"+{CONTACT}", "text": "hello", "sender_id": sender}
            sent_before = len(fake.sent)
            async with http.post(f"{gateway.base}/v1/messages", json=body) as r:
                refused = await r.json()
            assert (r.status, refused["error"]["code"]) == (503, "PROVIDER_UNAVAILABLE")
            assert len(fake.sent) == sent_before
            await _deliver(
                http,
                gateway,
                _signed(
                    _account(
                        "account_update",
                        {"event": "ACCOUNT_UPDATE", "ban_info": {"waba_ban_state": "REINSTATE"}},
                    )
                ),
            )
            async with http.post(f"{gateway.base}/v1/messages", json=body) as r:
                assert r.status == 200, await r.text()

            async def announced() -> bool:
                said = [e for e in receiver.events() if e["type"] == "sender.updated"]
                return len(said) >= 3

            await wait_for(announced)
        log = await anyio.to_thread.run_sync(gateway.stop)
    assert "Traceback" not in log
