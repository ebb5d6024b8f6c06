"""A customer's photo through WhatsApp-Web (issue 24): a real ``waport serve`` on the
WAHA adapter and a fake WAHA on loopback that keeps the file and serves it under
``/api/files/`` with the API key, as WAHA does. The event names the file by URL; the
gateway fetches it from its configured WAHA only."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from waport_web import fake as web_fake

from .conftest import waha_environ, wait_for, waport_serve, webhook_receiver

pytestmark = pytest.mark.anyio
CHAT = "255712345678@c.us"
VOICE = b"OggS" + bytes(range(256)) * 40


def _media_event(
    fake: web_fake.FakeWaha, message_id: str, url: str
) -> tuple[dict[str, str], bytes]:
    payload = {
        "id": f"false_{CHAT}_{message_id}",
        "timestamp": int(time.time()),
        "from": CHAT,
        "fromMe": False,
        "source": "app",
        "to": "15550000000@c.us",
        "body": "",
        "hasMedia": True,
        "media": {"url": url, "mimetype": "audio/ogg; codecs=opus", "filename": None},
        "ack": 1,
    }
    envelope = fake.envelope("message", payload, at=web_fake.FakeClock().now())
    body = json.dumps(envelope).encode()
    return web_fake.sign(body), body


async def test_a_voice_note_from_whatsapp_web_is_fetched_and_served(tmp_path: Path) -> None:
    async with web_fake.open_fake_waha() as fake, webhook_receiver() as receiver:
        fake.file_failures = 1  # one 500 first: retried with backoff
        url = fake.keep_file(VOICE, "audio/ogg; codecs=opus")
        elsewhere = url.replace(fake.url, "http://203.0.113.9:3000")  # a misconfigured base URL
        env = waha_environ(fake.url, WAPORT_WEBHOOK_URL=receiver.url)
        serving = waport_serve(tmp_path, env)
        gateway = await anyio.to_thread.run_sync(serving.__enter__)
        try:
            root = {"Authorization": f"Bearer {gateway.key}"}
            async with aiohttp.ClientSession(headers=root) as http:
                headers, body = _media_event(fake, "VOICE1", elsewhere)
                async with http.post(
                    gateway.base + "/webhooks/web", data=body, headers=headers
                ) as r:
                    assert r.status == 200, await r.text()
                found: list[dict[str, Any]] = []

                async def ready() -> bool:
                    found[:] = [e["data"] for e in receiver.events() if e["type"] == "media.ready"]
                    return bool(found)

                await wait_for(ready, limit=30, interval=0.1)
                media = found[0]["media"]
                assert media["mime_type"] == "audio/ogg; codecs=opus"
                assert media["size"] == len(VOICE)
                received = [e["data"] for e in receiver.events() if e["type"] == "message.received"]
                assert received[0]["media"]["status"] == "pending"
                async with http.get(f"{gateway.base}/v1/media/{media['id']}") as r:
                    assert r.status == 200
                    assert await r.read() == VOICE
                    assert r.headers["Content-Type"].startswith("audio/ogg")
            log = await anyio.to_thread.run_sync(gateway.stop)
        finally:
            await anyio.to_thread.run_sync(serving.__exit__, None, None, None)
    assert fake.file_downloads == 1  # after one refused try; from the configured WAHA
    assert "Traceback" not in log
