"""Answers that must tell how each message ended, with the dispatcher running as it does
under ``waport serve`` (bugs found in the code the core redesign rewrote)."""

from __future__ import annotations

import json
from datetime import timedelta

import anyio
import pytest

from tests.adapters.http.conftest import open_harness, receiver
from waport.domain.records import StoredResponse
from waport.service import replay
from waport_http.routes.messages import resumed

pytestmark = pytest.mark.anyio

HELLO = {"name": "hello_world", "language": "en_US"}


async def test_a_broadcast_past_its_concurrency_answers_every_row_as_it_ended() -> None:
    """64 rows, 32 attempted at once, each send slowed: the dispatcher (woken by new
    rows) must not take rows the request is still going to attempt, or the answer would
    show them pending, and a failed row among them would leave it a 200."""
    async with open_harness(background=True) as gw:
        await gw.post(
            "/v1/sandbox/script", {"to": "255700000050", "fail_with": "RECIPIENT_NOT_ON_WHATSAPP"}
        )
        await gw.post("/v1/sandbox/script", {"delay_ms": 40, "times": 63})  # the first match wins
        recipients = [{"to": f"25570000{i:04d}"} for i in range(64)]
        status, body, _ = await gw.post(
            "/v1/broadcasts",
            {"template": HELLO, "sender_id": "sandbox-sender", "recipients": recipients},
        )
        assert (status, body["status"]) == (207, "partial")
        assert body["data"]["summary"] == {"total": 64, "sent": 63, "pending": 0, "failed": 1}
        failed = [r["to"] for r in body["data"]["results"] if r["status"] == "failed"]
        assert failed == ["255700000050"]


async def test_a_replayed_respond_async_broadcast_answers_202_as_the_first_did() -> None:
    async with open_harness() as gw:
        body = {
            "template": HELLO,
            "sender_id": "sandbox-sender",
            "recipients": [{"to": "255700000001"}],
        }
        headers = {"Prefer": "respond-async", "Idempotency-Key": "bc-1"}
        first = await gw.post("/v1/broadcasts", body, **headers)
        again = await gw.post("/v1/broadcasts", body, **headers)
        assert (first[0], again[0], again[2]["Idempotent-Replayed"]) == (202, 202, "true")
        assert again[1] == first[1]
        # a first request that died after storing its rows (no answer kept) is answered
        # from the rows: still 202, not the 200 an "ok" broadcast gets
        rows = [
            await gw.running.store.messages.get(r["message_id"])
            for r in first[1]["data"]["results"]
        ]
        status, payload = resumed(replay.Earlier(rows=[r for r in rows if r is not None]))
        assert (status, payload["status"]) == (202, "pending")
        assert StoredResponse(status=status, body=json.dumps(payload).encode()).status == first[0]


async def test_scheduled_rows_are_reported_as_scheduled() -> None:
    async with open_harness() as gw:
        later = (gw.clock.now() + timedelta(hours=1)).isoformat()
        status, body, _ = await gw.post(
            "/v1/broadcasts",
            {
                "template": HELLO,
                "sender_id": "sandbox-sender",
                "recipients": [{"to": "255700000001"}, {"to": "255700000002"}],
                "scheduled_at": later,
            },
        )
        assert (status, body["status"]) == (202, "pending")
        assert [r["status"] for r in body["data"]["results"]] == ["scheduled", "scheduled"]
        _, again, _ = await gw.get(f"/v1/broadcasts/{body['data']['broadcast_id']}")
        assert [r["status"] for r in again["data"]["results"]] == ["scheduled", "scheduled"]


async def test_a_reply_reaches_the_webhook_url_of_the_message_it_answers() -> None:
    """``message.reply`` goes where the answered message reported its own events (its
    ``webhook_url``), and the sandbox can play a reply (``reply_to``)."""
    async with (
        receiver() as (url, seen, _),
        open_harness({"WAPORT_ALLOW_PRIVATE_URLS": "true"}, background=True) as gw,
    ):
        status, sent, _ = await gw.post(
            "/v1/messages",
            {
                "to": "255712345678",
                "sender_id": "sandbox-sender",
                "template": HELLO,
                "webhook_url": url,
            },
        )
        assert status == 200
        message_id = sent["data"]["message_id"]
        status, inbound, _ = await gw.post(
            "/v1/sandbox/inbound",
            {"from": "255712345678", "text": "Yes please", "reply_to": message_id},
        )
        assert status == 200
        with anyio.fail_after(10):
            while not any(b'"message.reply"' in body for _, body in seen):
                gw.running.relay.wake()
                await anyio.sleep(0.05)
        reply = next(json.loads(body) for _, body in seen if b'"message.reply"' in body)
        assert reply["data"]["message_id"] == inbound["data"]["message_id"]
        assert reply["data"]["reply_to_message_id"] == message_id
