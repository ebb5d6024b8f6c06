"""WhatsApp-Web's word through a real ``waport serve`` on the WAHA adapter (issue 27):
a session that stops ``WORKING`` makes its sender unavailable (shown on
``GET /v1/senders/{id}``, announced as ``sender.updated``) and its sends fail at once
with PROVIDER_UNAVAILABLE, without a call to WAHA, until the session works again; a
delivery receipt without a timestamp is applied, a photo without ``hasMedia`` is a
photo, and WAHA's field-level words on a refused send reach the caller."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from waport_web import fake as web_fake

from .conftest import Receiver, waha_environ, wait_for, waport_serve, webhook_receiver

pytestmark = pytest.mark.anyio
CHAT = "255712345678@c.us"


def _signed(fake: web_fake.FakeWaha, event: str, payload: dict[str, Any]) -> tuple[dict, bytes]:
    envelope = fake.envelope(event, payload, at=web_fake.FakeClock().now())
    envelope["timestamp"] = int(time.time() * 1000)
    body = json.dumps(envelope).encode()
    return web_fake.sign(body), body


def now() -> datetime:
    return datetime.now(UTC)


def _events(receiver: Receiver, kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in receiver.events() if e["type"] == kind]


async def test_a_session_down_fails_sends_fast_and_receipts_and_photos_are_kept(
    tmp_path: Path,
) -> None:
    async with web_fake.open_fake_waha() as fake, webhook_receiver() as receiver:
        env = waha_environ(fake.url, WAPORT_WEBHOOK_URL=receiver.url)
        serving = waport_serve(tmp_path, env)
        gateway = await anyio.to_thread.run_sync(serving.__enter__)
        try:
            root = {"Authorization": f"Bearer {gateway.key}"}
            async with aiohttp.ClientSession(headers=root) as http:

                async def deliver(event: str, payload: dict[str, Any]) -> None:
                    headers, body = _signed(fake, event, payload)
                    async with http.post(
                        gateway.base + "/webhooks/web", data=body, headers=headers
                    ) as r:
                        assert r.status == 200, await r.text()

                async def deliver_envelope(envelope: dict[str, Any]) -> None:
                    body = json.dumps(envelope).encode()
                    async with http.post(
                        gateway.base + "/webhooks/web", data=body, headers=web_fake.sign(body)
                    ) as r:
                        assert r.status == 200, await r.text()

                async def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
                    async with http.request(method, gateway.base + path, json=body) as r:
                        return r.status, await r.json()

                session = fake.session
                photo = fake.keep_file(b"\xff\xd8\xff\xe0" + bytes(64), "image/jpeg")
                # the contact writes first (a photo without hasMedia), opening the window
                await deliver(
                    "message",
                    {
                        "id": f"false_{CHAT}_PHOTO1",
                        "timestamp": int(time.time()),
                        "from": CHAT,
                        "fromMe": False,
                        "body": "look",
                        "media": {"url": photo, "mimetype": "image/jpeg", "filename": None},
                    },
                )

                async def received() -> bool:
                    return bool(_events(receiver, "message.received"))

                await wait_for(received)
                assert _events(receiver, "message.received")[0]["kind"] == "image"

                text = {"to": "+255712345678", "text": "Your order is ready"}
                status, sent = await call("POST", "/v1/messages", text)
                assert status == 200, sent
                provider_id = sent["data"]["provider_message_id"]
                # a receipt without any timestamp (neither its own nor the envelope's)
                _, body = _signed(
                    fake, "message.ack", {"id": provider_id, "fromMe": True, "ack": 3}
                )
                envelope = json.loads(body)
                del envelope["timestamp"]
                raw = json.dumps(envelope).encode()
                async with http.post(
                    gateway.base + "/webhooks/web", data=raw, headers=web_fake.sign(raw)
                ) as r:
                    assert r.status == 200
                status, read = await call("GET", f"/v1/messages/{sent['data']['message_id']}")
                assert read["data"]["status"] == "read", read

                await deliver_envelope(fake.session_changed("SCAN_QR_CODE", at=now()))
                status, shown = await call("GET", f"/v1/senders/{session}")
                assert shown["data"]["health"]["available"] is False
                assert shown["data"]["health"]["state"] == "SCAN_QR_CODE"
                calls = fake.calls
                started = time.monotonic()
                status, refused = await call("POST", "/v1/messages", text)
                assert (status, refused["error"]["code"]) == (503, "PROVIDER_UNAVAILABLE")
                assert refused["error"]["param"] == "sender_id"
                assert time.monotonic() - started < 1.0  # at once, not after a timeout
                assert fake.calls == calls  # WAHA was not asked

                await deliver_envelope(fake.session_changed("WORKING", at=now()))
                status, again = await call("POST", "/v1/messages", text)
                assert status == 200, again

                # WAHA refuses a send for a rule waport cannot know: its words are kept
                fake.refuse_next = ["text must be shorter than 4096 characters"]
                status, refused = await call("POST", "/v1/messages", text)
                assert (status, refused["error"]["code"]) == (400, "VALIDATION_FAILED")
                assert "shorter than 4096" in json.dumps(refused["error"])

                async def announced() -> bool:
                    return len(_events(receiver, "sender.updated")) >= 2

                await wait_for(announced)
                states = [e["health"]["state"] for e in _events(receiver, "sender.updated")]
                assert states == ["SCAN_QR_CODE", "WORKING"]
        finally:
            await anyio.to_thread.run_sync(serving.__exit__, None, None, None)
