"""One integration test, two providers: Meta's Cloud API and WhatsApp-Web (WAHA), chosen by
configuration alone. The same REST calls send text, image, document, voice, location,
contacts and a reaction; each fake remote checks every request against its documented
shapes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp.test_utils import TestServer

from waport.domain.records import SCOPES
from waport.service import SystemClock
from waport_http import auth, config
from waport_http.server import open_gateway
from waport_meta import fake as meta_fake
from waport_web import fake as web_fake

pytestmark = pytest.mark.anyio
CONTACT = "255712345678"


@attrs.define
class Remote:
    env: dict[str, str]
    inbound: Callable[[], tuple[dict[str, str], bytes]]
    received: Callable[[], int]
    invalid: Callable[[], list[Any]]
    webhook_path: str


@asynccontextmanager
async def meta_remote() -> AsyncIterator[Remote]:
    async with meta_fake.open_fake_graph() as fake:

        def inbound() -> tuple[dict[str, str], bytes]:
            now = str(int(datetime.now(UTC).timestamp()))
            body = fake.webhook(
                {
                    "messages": [
                        {
                            "from": CONTACT,
                            "id": "wamid.IN",
                            "timestamp": now,
                            "type": "text",
                            "text": {"body": "hi"},
                        }
                    ]
                }
            )
            raw = json.dumps(body).encode()
            return meta_fake.sign(raw), raw

        yield Remote(
            env={
                "WAPORT_PROVIDER": "meta",
                "WAPORT_META_TOKEN": meta_fake.TOKEN,
                "WAPORT_META_PHONE_NUMBER_IDS": meta_fake.PHONE_NUMBER_ID,
                "WAPORT_META_WABA_ID": meta_fake.WABA_ID,
                "WAPORT_META_APP_SECRET": meta_fake.APP_SECRET,
                "WAPORT_META_GRAPH_URL": fake.url,
            },
            inbound=inbound,
            received=lambda: len(fake.sent) + len(fake.uploads),
            invalid=lambda: fake.invalid,
            webhook_path="/webhooks/meta",
        )


@asynccontextmanager
async def web_remote() -> AsyncIterator[Remote]:
    async with web_fake.open_fake_waha() as fake:

        def inbound() -> tuple[dict[str, str], bytes]:
            now = datetime.now(UTC)
            payload = {
                "id": f"false_{CONTACT}@c.us_IN",
                "timestamp": int(now.timestamp()),
                "from": f"{CONTACT}@c.us",
                "fromMe": False,
                "body": "hi",
            }
            raw = json.dumps(fake.envelope("message", payload, at=now)).encode()
            return web_fake.sign(raw), raw

        yield Remote(
            env={
                "WAPORT_PROVIDER": "web",
                "WAPORT_WEB_URL": fake.url,
                "WAPORT_WEB_API_KEY": web_fake.API_KEY,
                "WAPORT_WEB_HMAC_KEY": web_fake.HMAC_KEY,
                # WAHA fetches media URLs from inside the network, so the gateway resolves
                # them first; tests have no DNS. The guard is tested in tests/reliability.
                "WAPORT_ALLOW_PRIVATE_URLS": "true",
            },
            inbound=inbound,
            received=lambda: len(fake.sent),
            invalid=lambda: fake.invalid,
            webhook_path="/webhooks/web",
        )


MESSAGES: list[dict[str, Any]] = [
    {"text": "Your order shipped"},
    {
        "media": {
            "type": "image",
            "url": "https://cdn.example.com/parcel.jpg",
            "caption": "Your parcel",
        }
    },
    {
        "media": {
            "type": "document",
            "url": "https://cdn.example.com/invoice.pdf",
            "filename": "invoice.pdf",
        }
    },
    {
        "media": {
            "type": "audio",
            "url": "https://cdn.example.com/note.ogg",
            "voice": True,
            "mime_type": "audio/ogg; codecs=opus",
        }
    },
    {"location": {"latitude": -6.8, "longitude": 39.28, "name": "Pick-up point"}},
    {"contacts": [{"name": {"formatted_name": "Courier"}, "phones": [{"phone": "+255700000009"}]}]},
]


@pytest.mark.parametrize("remote_factory", [meta_remote, web_remote], ids=["meta", "web"])
async def test_the_same_calls_work_on_either_provider(remote_factory: Callable[[], Any]) -> None:
    async with remote_factory() as remote:
        loaded = config.load(None, {"WAPORT_DATABASE": "memory:", **remote.env})
        async with open_gateway(loaded, background=False) as running:
            server = TestServer(running.app, host="127.0.0.1")
            await server.start_server()
            key = auth.issue(
                workspace_id="default",
                scopes=frozenset(SCOPES),
                now=SystemClock().now(),
                pepper=None,
            )
            await running.store.api_keys.add(key.record)
            base = str(server.make_url("")).rstrip("/")
            headers = {"Authorization": f"Bearer {key.secret}"}
            try:
                async with aiohttp.ClientSession() as http:
                    webhook_headers, webhook_body = remote.inbound()
                    async with http.post(
                        base + remote.webhook_path, data=webhook_body, headers=webhook_headers
                    ) as r:
                        assert r.status == 200
                    ids = []
                    for body in MESSAGES:
                        async with http.post(
                            f"{base}/v1/messages",
                            json={"to": f"+{CONTACT}", **body},
                            headers=headers,
                        ) as r:
                            answer = await r.json()
                            assert (r.status, answer["status"]) == (200, "sent"), answer
                            ids.append(answer["data"]["message_id"])
                    async with http.post(
                        f"{base}/v1/messages",
                        json={
                            "to": f"+{CONTACT}",
                            "reaction": {"message_id": ids[0], "emoji": "👍"},
                        },
                        headers=headers,
                    ) as r:
                        assert (r.status, (await r.json())["status"]) == (200, "sent")
            finally:
                await server.close()
        assert remote.invalid() == []
        assert remote.received() >= len(MESSAGES) + 1
