"""A template's life on Meta through a real ``waport serve`` and the fake Graph API
(issue 27): created through ``POST /v1/templates`` (PENDING, refused to sends), approved
by Meta's signed webhook (sends go out), paused (refused with TEMPLATE_NOT_APPROVED
before any call to Meta), and each review announced once as ``template.updated`` to
the workspace's webhook; then deleted at Meta and from the catalogue."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from waport_meta import fake as meta_fake
from waport_meta.fake_templates import review

from .conftest import Receiver, wait_for, webhook_receiver
from .test_inbound_media import _deliver, meta_gateway

pytestmark = pytest.mark.anyio
DRAFT = {
    "name": "order_ready",
    "language": "en_US",
    "category": "UTILITY",
    "body": "Hi {{first_name}}, order {{order}} is ready.",
    "examples": {"first_name": "Ana", "order": "A-17"},
    "footer": "Reply STOP to opt out",
    "buttons": [{"type": "QUICK_REPLY", "text": "Thanks"}],
}
SEND = {
    "to": "+16505551234",
    "sender_id": meta_fake.PHONE_NUMBER_ID,
    "template": {
        "name": "order_ready",
        "language": "en_US",
        "params": {"first_name": "Bo", "order": "B-2"},
    },
}


def _updates(receiver: Receiver) -> list[dict[str, Any]]:
    return [e["data"] for e in receiver.events() if e["type"] == "template.updated"]


async def test_create_approve_send_pause_refuse_delete(tmp_path: Path) -> None:
    async with (
        webhook_receiver() as receiver,
        meta_gateway(tmp_path, WAPORT_WEBHOOK_URL=receiver.url) as (gateway, fake),
    ):
        headers = {"Authorization": f"Bearer {gateway.key}"}
        async with aiohttp.ClientSession(headers=headers) as http:

            async def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
                async with http.request(method, gateway.base + path, json=body) as r:
                    return r.status, await r.json()

            async def meta_says(event: str, **value: Any) -> None:
                body = review(
                    fake.templates,
                    fake.waba_id,
                    "order_ready",
                    "en_US",
                    event,
                    at=int(time.time()),
                    **value,
                )
                raw = json.dumps(body).encode()
                await _deliver(http, gateway, (meta_fake.sign(raw), raw))

            status, bad = await call("POST", "/v1/templates", {**DRAFT, "body": "{{order}} ok"})
            assert (status, bad["error"]["code"], bad["error"]["param"]) == (
                400,
                "VALIDATION_FAILED",
                "body",
            )
            status, made = await call("POST", "/v1/templates", DRAFT)
            assert status == 201, made
            assert made["data"]["status"] == "PENDING"
            assert made["data"]["params"]["body"] == ["first_name", "order"]
            created = [t for t in fake.templates if t["name"] == "order_ready"]
            assert created
            assert created[0]["components"][0]["example"] == {
                "body_text_named_params": [
                    {"param_name": "first_name", "example": "Ana"},
                    {"param_name": "order", "example": "A-17"},
                ]
            }
            status, again = await call("POST", "/v1/templates", DRAFT)
            assert (status, again["error"]["code"]) == (409, "TEMPLATE_EXISTS")

            status, early = await call("POST", "/v1/messages", SEND)
            assert (status, early["error"]["code"]) == (422, "TEMPLATE_NOT_APPROVED")

            await meta_says("APPROVED")
            status, sent = await call("POST", "/v1/messages", SEND)
            assert status == 200, sent
            assert [p["template"]["name"] for p in fake.sent] == ["order_ready"]

            await meta_says("PAUSED", reason=None, other_info={"title": "FIRST_PAUSE"})
            await meta_says("PAUSED", reason=None, other_info={"title": "FIRST_PAUSE"})  # again
            await meta_says(
                "",
                field="message_template_quality_update",
                previous_quality_score="GREEN",
                new_quality_score="RED",
            )
            await meta_says(
                "",
                field="template_category_update",
                previous_category="UTILITY",
                new_category="MARKETING",
            )
            status, refused = await call("POST", "/v1/messages", SEND)
            assert (status, refused["error"]["code"]) == (422, "TEMPLATE_NOT_APPROVED")
            assert len(fake.sent) == 1  # refused before any call to Meta
            status, listed = await call("GET", "/v1/templates")
            (now,) = [t for t in listed["data"] if t["name"] == "order_ready"]
            assert (now["status"], now["quality"], now["category"]) == (
                "PAUSED",
                "RED",
                "MARKETING",
            )

            async def announced() -> bool:
                return len(_updates(receiver)) >= 4

            await wait_for(announced)
            updates = _updates(receiver)
            assert [(u["status"], u["quality"], u["category"]) for u in updates] == [
                ("APPROVED", None, "UTILITY"),
                ("PAUSED", None, "UTILITY"),
                ("PAUSED", "RED", "UTILITY"),
                ("PAUSED", "RED", "MARKETING"),
            ]
            assert updates[1]["previous"]["status"] == "APPROVED"

            status, gone = await call(
                "DELETE", f"/v1/templates/order_ready?sender_id={meta_fake.PHONE_NUMBER_ID}"
            )
            assert (status, gone["data"]) == (200, {"name": "order_ready", "deleted": 1})
            assert not [t for t in fake.templates if t["name"] == "order_ready"]
            status, missing = await call("DELETE", "/v1/templates/order_ready")
            assert (status, missing["error"]["code"]) == (404, "TEMPLATE_NOT_FOUND")
            assert fake.invalid == []
