"""The gateway configured for Meta, over a fake Graph API: sends, handshake, signed webhooks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from waport.domain.records import SCOPES
from waport.testing import FakeClock
from waport_http import auth, config
from waport_http.app import PROVIDER_CHECK_PERIOD
from waport_http.server import Running, open_gateway
from waport_meta.fake import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    TOKEN,
    VERIFY_TOKEN,
    WABA_ID,
    FakeGraphApi,
    open_fake_graph,
    sign,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def stack() -> AsyncIterator[
    tuple[Running, FakeGraphApi, str, str, aiohttp.ClientSession, FakeClock]
]:
    async with open_fake_graph() as fake:
        env = {
            "WAPORT_DATABASE": "memory:",
            "WAPORT_PROVIDER": "meta",
            "WAPORT_META_TOKEN": TOKEN,
            "WAPORT_META_PHONE_NUMBER_IDS": PHONE_NUMBER_ID,
            "WAPORT_META_WABA_ID": WABA_ID,
            "WAPORT_META_APP_SECRET": APP_SECRET,
            "WAPORT_META_VERIFY_TOKEN": VERIFY_TOKEN,
            "WAPORT_META_GRAPH_URL": fake.url,
        }
        clock = FakeClock()
        async with open_gateway(config.load(None, env), clock=clock, background=False) as running:
            server = TestServer(running.app, host="127.0.0.1")
            await server.start_server()
            key = auth.issue(
                workspace_id="default", scopes=frozenset(SCOPES), now=clock.now(), pepper=None
            )
            await running.store.api_keys.add(key.record)
            try:
                async with aiohttp.ClientSession() as http:
                    yield (
                        running,
                        fake,
                        str(server.make_url("")).rstrip("/"),
                        key.secret,
                        http,
                        clock,
                    )
            finally:
                await server.close()


async def test_templates_are_synced_at_start_and_sends_reach_meta(stack: Any) -> None:
    _running, fake, base, key, http, clock = stack
    headers = {"Authorization": f"Bearer {key}"}
    async with http.get(f"{base}/v1/templates", headers=headers) as r:
        names = {t["name"] for t in (await r.json())["data"]}
    assert {"hello_world", "order_update", "spring_sale", "login_code", "old_promo"} == names
    body = {
        "to": "+255712345678",
        "sender_id": PHONE_NUMBER_ID,
        "template": {"name": "order_update", "language": "en_US", "params": ["Ana", "#1"]},
    }
    async with http.post(f"{base}/v1/messages", json=body, headers=headers) as r:
        sent = await r.json()
    assert sent["status"] == "sent"
    assert fake.sent[-1]["biz_opaque_callback_data"] == sent["data"]["message_id"]
    async with http.post(
        f"{base}/v1/messages",
        json={**body, "template": {"name": "old_promo", "language": "en_US"}},
        headers=headers,
    ) as r:
        assert (r.status, (await r.json())["error"]["code"]) == (422, "TEMPLATE_NOT_APPROVED")
    assert fake.invalid == []

    # Meta's delivery report comes back through the signed webhook route
    wamid = sent["data"]["provider_message_id"]
    webhook = fake.webhook(
        {
            "statuses": [
                {
                    "id": wamid,
                    "status": "read",
                    "timestamp": str(int(clock.now().timestamp()) + 5),
                    "recipient_id": "255712345678",
                }
            ]
        }
    )
    raw = json.dumps(webhook).encode()
    async with http.post(f"{base}/webhooks/meta", data=raw, headers=sign(raw)) as r:
        assert (r.status, (await r.json())["data"]["statuses_applied"]) == (200, 1)
    async with http.post(
        f"{base}/webhooks/meta", data=raw, headers={"X-Hub-Signature-256": "sha256=00"}
    ) as r:
        assert (r.status, (await r.json())["error"]["code"]) == (401, "INVALID_SIGNATURE")
    async with http.get(f"{base}/v1/messages/{sent['data']['message_id']}", headers=headers) as r:
        assert (await r.json())["data"]["status"] == "read"


async def test_the_handshake_over_http(stack: Any) -> None:
    _, _, base, _, http, _ = stack
    async with http.get(
        f"{base}/webhooks/meta",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "8675309",
        },
    ) as r:
        assert (r.status, await r.text()) == (200, "8675309")
    async with http.get(
        f"{base}/webhooks/meta",
        params={"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
    ) as r:
        assert (r.status, (await r.json())["error"]["code"]) == (403, "FORBIDDEN")


async def test_inbound_opens_the_window_and_meta_errors_reach_the_caller(stack: Any) -> None:
    _running, fake, base, key, http, clock = stack
    headers = {"Authorization": f"Bearer {key}"}
    inbound = fake.webhook(
        {
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": "255712345678"}],
            "messages": [
                {
                    "from": "255712345678",
                    "id": "wamid.IN1",
                    "timestamp": str(int(clock.now().timestamp())),
                    "type": "text",
                    "text": {"body": "hi"},
                }
            ],
        }
    )
    raw = json.dumps(inbound).encode()
    for _ in range(2):  # Meta retries: the second delivery is a no-op
        async with http.post(f"{base}/webhooks/meta", data=raw, headers=sign(raw)) as r:
            assert r.status == 200
    async with http.post(
        f"{base}/v1/messages", json={"to": "255712345678", "text": "hello Ana"}, headers=headers
    ) as r:
        assert (await r.json())["status"] == "sent"
    from waport.testing.contracts import RemoteFailure

    fake.failures.append(RemoteFailure.NOT_ON_WHATSAPP)
    async with http.post(
        f"{base}/v1/messages", json={"to": "255712345678", "text": "again"}, headers=headers
    ) as r:
        body = await r.json()
        assert (r.status, body["error"]["code"]) == (422, "RECIPIENT_NOT_ON_WHATSAPP")
        assert body["data"]["status"] == "failed"


async def test_a_crashed_meta_attempt_is_reconciled_by_its_status_webhook(stack: Any) -> None:
    """A process died after Meta accepted the message but before recording it: waport never
    re-sends on Meta; the status webhook, which echoes waport's id, settles it."""
    running, fake, base, _key, http, clock = stack
    messenger = running.messenger
    result = await messenger.send(
        {
            "to": "255712345678",
            "sender_id": PHONE_NUMBER_ID,
            "template": {"name": "hello_world", "language": "en_US"},
            "scheduled_at": "2026-01-01T00:00:05Z",
        }
    )
    clock.advance(5)
    await running.store.messages.claim(result.message_id, now=clock.now())  # the dead attempt
    clock.advance(200)
    await messenger.dispatch_once()
    assert fake.sent == []  # not re-sent
    webhook = fake.webhook(
        {
            "statuses": [
                {
                    "id": "wamid.LOST",
                    "status": "delivered",
                    "timestamp": str(int(clock.now().timestamp())),
                    "recipient_id": "255712345678",
                    "biz_opaque_callback_data": result.message_id,
                }
            ]
        }
    )
    raw = json.dumps(webhook).encode()
    async with http.post(f"{base}/webhooks/meta", data=raw, headers=sign(raw)) as r:
        assert r.status == 200
    record = await messenger.get_message(result.message_id)
    assert (record.status.value, record.provider_message_id, record.attempting_since) == (
        "delivered",
        "wamid.LOST",
        None,
    )


async def test_an_unreconciled_meta_attempt_ends_outcome_unknown(stack: Any) -> None:
    running, fake, _, _, _, clock = stack
    messenger = running.messenger
    result = await messenger.send(
        {
            "to": "255712345678",
            "sender_id": PHONE_NUMBER_ID,
            "template": {"name": "hello_world", "language": "en_US"},
            "scheduled_at": "2026-01-01T00:00:05Z",
        }
    )
    clock.advance(5)
    await running.store.messages.claim(result.message_id, now=clock.now())
    clock.advance(11 * 60)
    report = await messenger.dispatch_once()
    assert report.unknown_outcomes == 1
    record = await messenger.get_message(result.message_id)
    assert record.status.value == "failed"
    assert record.error is not None
    assert record.error.code == "OUTCOME_UNKNOWN"
    assert fake.sent == []


async def test_probes_ask_meta_at_most_once_a_period_and_liveness_never(stack: Any) -> None:
    _running, fake, base, _key, http, clock = stack

    async def probe(path: str) -> tuple[int, Any]:
        async with http.get(base + path) as r:
            return r.status, (await r.json())["data"]

    before = fake.calls
    for _ in range(3):
        assert await probe("/healthz") == (200, {"store": "ok", "provider": "ok"})
    assert fake.calls == before + 1  # three probes, one Graph request

    fake.token = "revoked"  # Meta now refuses the gateway's token
    assert (await probe("/healthz"))[0] == 200  # the last answer, still fresh
    clock.advance(PROVIDER_CHECK_PERIOD.total_seconds())
    answers = await asyncio.gather(*(probe("/healthz") for _ in range(4)))
    assert fake.calls == before + 2  # probes arriving together share one check
    for status, data in answers:
        assert status == 503
        assert data["store"] == "ok"
        assert data["provider"].startswith("failing")

    assert await probe("/livez") == (200, {})  # a restart would not mend Meta
    assert fake.calls == before + 2

    fake.token = TOKEN
    clock.set(clock.now() - timedelta(hours=1))  # a clock set back does not keep a verdict
    assert await probe("/healthz") == (200, {"store": "ok", "provider": "ok"})
    assert fake.calls == before + 3


async def test_meta_cannot_tell_whether_a_number_has_whatsapp(stack: Any) -> None:
    _running, _fake, base, key, http, _clock = stack
    headers = {"Authorization": f"Bearer {key}"}
    async with http.get(f"{base}/v1/contacts/255712345678/whatsapp", headers=headers) as r:
        body = await r.json()
    assert (r.status, body["error"]["code"]) == (400, "FEATURE_NOT_SUPPORTED")
