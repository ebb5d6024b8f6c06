"""Nothing Meta says is lost (issue 27, first part), through the public webhook route of a
real ``waport serve``: a Click-to-WhatsApp ad referral, a WhatsApp Flow's answers
(``nfm_reply``) and a kind waport does not know yet each reach ``message.received``
and ``GET /v1/messages/{id}`` whole. The payloads follow the shapes of Meta's webhook
reference (messages: referral, interactive ``nfm_reply``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from waport_meta import fake as meta_fake

from .conftest import webhook_receiver
from .test_inbound_media import _deliver, _received, meta_gateway

pytestmark = pytest.mark.anyio
CONTACT = "16505551234"
REFERRAL = {
    "source_url": "https://fb.me/3cr4Wqqkv",
    "source_id": "120211231444290357",
    "source_type": "ad",
    "headline": "Spring sale",
    "body": "Tap to chat with us",
    "media_type": "image",
    "image_url": "https://scontent.example/ad.jpg",
    "thumbnail_url": "https://scontent.example/ad-thumb.jpg",
    "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0",
}
ANSWERS = {"flow_token": "ft-1", "screen_0_date_0": "2026-12-24", "screen_0_people_1": "4"}


def _message(wamid: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "from": CONTACT,
        "id": wamid,
        "timestamp": str(int(time.time())),
        "type": kind,
        **fields,
    }


def _signed(
    fake: meta_fake.FakeGraphApi, messages: list[dict[str, Any]]
) -> tuple[dict[str, str], bytes]:
    value = {"contacts": [{"profile": {"name": "Bo"}, "wa_id": CONTACT}], "messages": messages}
    body = json.dumps(fake.webhook(value), separators=(",", ":")).encode()
    return meta_fake.sign(body), body


async def test_referrals_flow_answers_and_unknown_kinds_are_kept(tmp_path: Path) -> None:
    flow = {
        "type": "nfm_reply",
        "nfm_reply": {"name": "flow", "body": "Sent", "response_json": json.dumps(ANSWERS)},
    }
    shapes = [
        _message("wamid.AD1", "text", text={"body": "Is it still on?"}, referral=REFERRAL),
        _message("wamid.FLOW1", "interactive", interactive=flow, context={"id": "wamid.OUT1"}),
        _message("wamid.NEW1", "poll_vote", poll_vote={"option": "B"}),
    ]
    async with (
        webhook_receiver() as receiver,
        meta_gateway(tmp_path, WAPORT_WEBHOOK_URL=receiver.url) as (gateway, fake),
    ):
        headers = {"Authorization": f"Bearer {gateway.key}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            await _deliver(http, gateway, _signed(fake, shapes))
            ad = await _received(receiver, "wamid.AD1")
            assert ad["referral"] == REFERRAL
            assert ad["text"] == "Is it still on?"
            answered = await _received(receiver, "wamid.FLOW1")
            assert answered["kind"] == "flow_reply"
            assert answered["flow_reply"] == {"name": "flow", "body": "Sent", "response": ANSWERS}
            unknown = await _received(receiver, "wamid.NEW1")
            assert unknown["kind"] == "unknown"
            assert unknown["content"]["type"] == "poll_vote"
            assert unknown["content"]["object"]["poll_vote"] == {"option": "B"}

            for event, key, expected in (
                (ad, "referral", REFERRAL),
                (answered, "flow_reply", answered["flow_reply"]),
                (unknown, "content", unknown["content"]),
            ):
                async with http.get(f"{gateway.base}/v1/messages/{event['message_id']}") as r:
                    stored = (await r.json())["data"]
                assert stored[key] == expected  # kept with the message, not only sent on
            async with http.get(f"{gateway.base}/v1/messages?contact={CONTACT}") as r:
                kinds = sorted(m["kind"] for m in (await r.json())["data"])
            assert kinds == ["flow_reply", "text", "unknown"]  # none dropped
        log = await anyio.to_thread.run_sync(gateway.stop)
    assert "Traceback" not in log


BSUID = "US.13491208655302741918"
GROUP = "Y2FwaV9ncm91cDox"


def _raw(fake: meta_fake.FakeGraphApi, value: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    body = json.dumps(fake.webhook(value), separators=(",", ":")).encode()
    return meta_fake.sign(body), body


async def test_a_user_known_by_id_is_answered_and_a_group_opens_no_private_window(
    tmp_path: Path,
) -> None:
    by_id = {  # a user who shows a username: Meta withholds the number
        "contacts": [{"profile": {"name": "Ana", "username": "@ana"}, "user_id": BSUID}],
        "messages": [
            {
                "from_user_id": BSUID,
                "id": "wamid.USER1",
                "timestamp": str(int(time.time())),
                "type": "text",
                "text": {"body": "Do you ship to Arusha?"},
            }
        ],
    }
    in_group = {  # a Groups API message: the group's, written by a participant
        "contacts": [{"profile": {"name": "Bo"}, "wa_id": "16505550000"}],
        "messages": [
            {
                "from": "16505550000",
                "group_id": GROUP,
                "id": "wamid.GROUP1",
                "timestamp": str(int(time.time())),
                "type": "text",
                "text": {"body": "Hi all"},
            }
        ],
    }
    async with (
        webhook_receiver() as receiver,
        meta_gateway(tmp_path, WAPORT_WEBHOOK_URL=receiver.url) as (gateway, fake),
    ):
        headers = {"Authorization": f"Bearer {gateway.key}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            await _deliver(http, gateway, _raw(fake, by_id))
            await _deliver(http, gateway, _raw(fake, in_group))
            user = await _received(receiver, "wamid.USER1")
            assert (user["from"], user["contact"]) == (
                BSUID,
                {"user_id": BSUID, "username": "@ana"},
            )
            assert user["contact_name"] == "Ana"
            group = await _received(receiver, "wamid.GROUP1")
            assert group["from"] == f"group:{GROUP}"
            assert group["group"] == {"id": f"group:{GROUP}", "participant": "16505550000"}
            async with http.get(f"{gateway.base}/v1/messages/{user['message_id']}") as r:
                assert (await r.json())["data"]["contact"]["username"] == "@ana"

            async def send(to: str) -> tuple[int, Any]:
                body = {"to": to, "text": "Yes we do", "sender_id": meta_fake.PHONE_NUMBER_ID}
                async with http.post(f"{gateway.base}/v1/messages", json=body) as r:
                    return r.status, await r.json()

            status, answer = await send(BSUID)  # within the window the user opened
            assert status == 200, answer
            assert fake.sent[-1]["recipient"] == BSUID
            assert "to" not in fake.sent[-1]
            status, answer = await send(f"group:{GROUP}")
            assert status == 200, answer
            assert (fake.sent[-1]["recipient_type"], fake.sent[-1]["to"]) == ("group", GROUP)
            status, answer = await send("+16505550000")  # the participant wrote to the group
            assert (status, answer["error"]["code"]) == (422, "WINDOW_CLOSED")
            assert fake.invalid == []
        log = await anyio.to_thread.run_sync(gateway.stop)
    assert "Traceback" not in log
