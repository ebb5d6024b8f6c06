"""A customer's photo reaches the integrator (issue 24): a real ``waport serve`` on the
Meta adapter, a fake Graph API on loopback that serves media as the Cloud API does
(the media object, then a download that needs the token). The photo is fetched after
the webhook, checked against Meta's digest, and served by ``GET /v1/media/{id}``."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp.test_utils import TestServer

from waport_meta import fake as meta_fake

from .conftest import Receiver, Server, wait_for, waport_serve, webhook_receiver

pytestmark = pytest.mark.anyio
CONTACT = "255712345678"
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 64


@asynccontextmanager
async def meta_gateway(
    folder: Path,
    seed: dict[str, tuple[bytes, str]] | None = None,
    key: str | None = None,
    **env: str,
) -> AsyncIterator[tuple[Server, meta_fake.FakeGraphApi]]:
    """A gateway on the Meta adapter and the fake it talks to, holding ``seed`` media
    from the start (on this loop: the gateway starts and stops from a thread so the
    fake answers meanwhile)."""
    fake = meta_fake.FakeGraphApi(stored_media=dict(seed or {}))
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")  # its paging links point here
    full_env = {
        "WAPORT_PROVIDER": "meta",
        "WAPORT_META_TOKEN": meta_fake.TOKEN,
        "WAPORT_META_PHONE_NUMBER_IDS": meta_fake.PHONE_NUMBER_ID,
        "WAPORT_META_WABA_ID": meta_fake.WABA_ID,
        "WAPORT_META_APP_SECRET": meta_fake.APP_SECRET,
        "WAPORT_META_GRAPH_URL": str(server.make_url("")).rstrip("/"),
        "WAPORT_RATE_LIMIT_PER_MINUTE": "100000",  # the tests poll
        **env,
    }
    serving = waport_serve(folder, full_env, key=key)
    try:
        gateway = await anyio.to_thread.run_sync(serving.__enter__)
        try:
            yield gateway, fake
        finally:
            await anyio.to_thread.run_sync(serving.__exit__, None, None, None)
    finally:
        await server.close()


def _image_webhook(
    fake: meta_fake.FakeGraphApi, media_id: str, wamid: str, sha256: str
) -> tuple[dict[str, str], bytes]:
    value = {
        "contacts": [{"profile": {"name": "Ana"}, "wa_id": CONTACT}],
        "messages": [
            {
                "from": CONTACT,
                "id": wamid,
                "timestamp": str(int(time.time())),
                "type": "image",
                "image": {
                    "id": media_id,
                    "mime_type": "image/jpeg",
                    "sha256": sha256,
                    "caption": "the broken part",
                },
            }
        ],
    }
    body = json.dumps(fake.webhook(value), separators=(",", ":")).encode()
    return meta_fake.sign(body), body


async def _deliver(
    http: aiohttp.ClientSession, gateway: Server, signed: tuple[dict[str, str], bytes]
) -> None:
    headers, body = signed
    async with http.post(
        gateway.base + "/webhooks/meta",
        data=body,
        headers={**headers, "Content-Type": "application/json"},
    ) as r:
        assert r.status == 200, await r.text()


async def _received(receiver: Receiver, wamid: str) -> dict[str, Any]:
    """The ``message.received`` event of this provider message."""
    found: list[dict[str, Any]] = []

    async def arrived() -> bool:
        found[:] = [
            e["data"]
            for e in receiver.events()
            if e["type"] == "message.received" and e["data"]["provider_message_id"] == wamid
        ]
        return bool(found)

    await wait_for(arrived)
    return found[0]


async def _event(receiver: Receiver, kind: str, message_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def arrived() -> bool:
        found[:] = [
            e["data"]
            for e in receiver.events()
            if e["type"] == kind and e["data"]["message_id"] == message_id
        ]
        return bool(found)

    await wait_for(arrived)
    return found[0]


async def _media_status(
    http: aiohttp.ClientSession, gateway: Server, message_id: str, until: str
) -> dict[str, Any]:
    media: dict[str, Any] = {}

    async def settled() -> bool:
        async with http.get(f"{gateway.base}/v1/messages/{message_id}") as r:
            media.update((await r.json())["data"]["media"])
        return media["status"] == until

    await wait_for(settled, limit=30, interval=0.2)
    return media


async def test_a_customers_photo_is_fetched_checked_and_served(tmp_path: Path) -> None:
    digest = hashlib.sha256(PHOTO).hexdigest()
    async with (
        webhook_receiver() as receiver,
        meta_gateway(tmp_path, WAPORT_WEBHOOK_URL=receiver.url) as (gateway, fake),
    ):
        fake.stored_media["MEDIA-1"] = (PHOTO, "image/jpeg")
        root = {"Authorization": f"Bearer {gateway.key}"}
        async with aiohttp.ClientSession(headers=root) as http:
            await _deliver(http, gateway, _image_webhook(fake, "MEDIA-1", "wamid.IN1", digest))
            event = await _received(receiver, "wamid.IN1")
            assert event["media"]["status"] == "pending"
            assert event["media"]["caption"] == "the broken part"
            media = await _media_status(http, gateway, event["message_id"], "ready")
            assert (media["size"], media["sha256"]) == (len(PHOTO), digest)
            ready = await _event(receiver, "media.ready", event["message_id"])
            assert ready["media"]["id"] == media["id"]
            assert ready["media"]["status"] == "ready"
            async with http.get(f"{gateway.base}/v1/media/{media['id']}") as r:
                assert r.status == 200
                assert await r.read() == PHOTO
                assert r.headers["Content-Type"] == "image/jpeg"
                assert r.headers["ETag"] == f'"{digest}"'
            async with http.get(
                f"{gateway.base}/v1/media/{media['id']}", headers={"Range": "bytes=0-9"}
            ) as r:
                assert (r.status, await r.read()) == (206, PHOTO[:10])
        log = await anyio.to_thread.run_sync(gateway.stop)
    assert fake.media_downloads == 1  # fetched once, served from the media store after
    assert "Traceback" not in log


async def test_a_digest_mismatch_fails_and_two_failed_downloads_are_retried(
    tmp_path: Path,
) -> None:
    async with (
        webhook_receiver() as receiver,
        meta_gateway(tmp_path, WAPORT_WEBHOOK_URL=receiver.url) as (gateway, fake),
    ):
        fake.stored_media["MEDIA-BAD"] = (PHOTO, "image/jpeg")
        fake.stored_media["MEDIA-FLAKY"] = (PHOTO, "image/jpeg")
        fake.media_failures["MEDIA-FLAKY"] = 2  # two 500s, then the bytes
        root = {"Authorization": f"Bearer {gateway.key}"}
        async with aiohttp.ClientSession(headers=root) as http:
            wrong = hashlib.sha256(b"other bytes").hexdigest()
            await _deliver(http, gateway, _image_webhook(fake, "MEDIA-BAD", "wamid.BAD", wrong))
            digest = hashlib.sha256(PHOTO).hexdigest()
            await _deliver(
                http, gateway, _image_webhook(fake, "MEDIA-FLAKY", "wamid.FLAKY", digest)
            )
            bad = await _received(receiver, "wamid.BAD")
            flaky = await _received(receiver, "wamid.FLAKY")
            failed = await _media_status(http, gateway, bad["message_id"], "failed")
            assert "MEDIA_FETCH_FAILED" in failed["error"]
            said = await _event(receiver, "media.failed", bad["message_id"])
            assert said["media"]["status"] == "failed"
            ready = await _media_status(http, gateway, flaky["message_id"], "ready")
            assert ready["size"] == len(PHOTO)
            # nobody gets the mismatched bytes: a download tries again and refuses
            async with http.get(f"{gateway.base}/v1/media/{failed['id']}") as r:
                assert r.status == 502
                assert (await r.json())["error"]["code"] == "MEDIA_FETCH_FAILED"
        log = await anyio.to_thread.run_sync(gateway.stop)
    assert "Traceback" not in log


async def test_a_sandbox_contact_sends_a_photo_by_data_uri_or_upload(tmp_path: Path) -> None:
    """The developer plays a customer who sends a photo: the same flow as a real
    provider's (event, fetch, ``ready``), on the default sandbox gateway."""
    data_uri = "data:image/jpeg;base64," + base64.b64encode(PHOTO).decode()
    with waport_serve(tmp_path) as gateway:
        root = {"Authorization": f"Bearer {gateway.key}"}
        async with aiohttp.ClientSession(headers=root) as http:
            body = {"from": CONTACT, "text": "my receipt", "media": {"data": data_uri}}
            async with http.post(gateway.base + "/v1/sandbox/inbound", json=body) as r:
                sent = await r.json()
                assert r.status == 200, sent
            assert sent["data"]["kind"] == "image"
            media = await _media_status(http, gateway, sent["data"]["message_id"], "ready")
            assert (media["caption"], media["size"]) == ("my receipt", len(PHOTO))
            async with http.get(f"{gateway.base}/v1/media/{media['id']}") as r:
                assert await r.read() == PHOTO
            # an upload of the workspace, sent by the "customer"
            async with http.post(
                gateway.base + "/v1/media", data=PHOTO, headers={"Content-Type": "image/jpeg"}
            ) as r:
                upload = (await r.json())["data"]["media_id"]
            body = {"from": CONTACT, "media": {"id": upload}}
            async with http.post(gateway.base + "/v1/sandbox/inbound", json=body) as r:
                again = await r.json()
            media = await _media_status(http, gateway, again["data"]["message_id"], "ready")
            assert media["sha256"] == hashlib.sha256(PHOTO).hexdigest()
            for bad, param in (
                ({"from": CONTACT, "media": {"data": "not a data URI"}}, "media.data"),
                ({"from": CONTACT, "media": {"url": "https://x"}}, "media"),
            ):
                async with http.post(gateway.base + "/v1/sandbox/inbound", json=bad) as r:
                    refused = await r.json()
                    assert 400 <= r.status < 500, refused
                if param:
                    assert refused["error"]["param"] == param
        log = gateway.stop()
    assert "Traceback" not in log


async def test_a_slow_media_download_does_not_hold_up_queued_sends(tmp_path: Path) -> None:
    """Media is fetched in a task of its own: a 4 s download runs while a queued send
    (``Prefer: respond-async``, so the dispatcher sends it) goes out at once."""
    async with (
        webhook_receiver() as receiver,
        meta_gateway(tmp_path, WAPORT_WEBHOOK_URL=receiver.url) as (gateway, fake),
    ):
        fake.stored_media["MEDIA-SLOW"] = (PHOTO, "image/jpeg")
        fake.download_delay = 4.0
        root = {"Authorization": f"Bearer {gateway.key}"}
        async with aiohttp.ClientSession(headers=root) as http:
            digest = hashlib.sha256(PHOTO).hexdigest()
            await _deliver(http, gateway, _image_webhook(fake, "MEDIA-SLOW", "wamid.SLOW", digest))
            inbound = await _received(receiver, "wamid.SLOW")
            started = time.monotonic()
            body = {
                "to": CONTACT,
                "sender_id": meta_fake.PHONE_NUMBER_ID,
                "template": {"name": "hello_world", "language": "en_US"},
            }
            async with http.post(
                gateway.base + "/v1/messages", json=body, headers={"Prefer": "respond-async"}
            ) as r:
                answer = await r.json()
                assert r.status == 202, answer
                queued = answer["data"]
            sent_after = None
            while time.monotonic() - started < 10:
                async with http.get(f"{gateway.base}/v1/messages/{queued['message_id']}") as r:
                    if (await r.json())["data"]["status"] == "sent":
                        sent_after = time.monotonic() - started
                        break
                await asyncio.sleep(0.05)
            media = await _media_status(http, gateway, inbound["message_id"], "ready")
        await anyio.to_thread.run_sync(gateway.stop)
    assert sent_after is not None
    assert sent_after < 2.0, sent_after
    assert media["size"] == len(PHOTO)


async def test_media_left_unfetched_by_a_stopped_gateway_is_fetched_at_the_next_start(
    tmp_path: Path,
) -> None:
    """The first gateway cannot fetch the photo (Meta does not have it yet) and stops;
    the next start on the same database finds it unfetched and fetches it, unasked."""
    digest = hashlib.sha256(PHOTO).hexdigest()
    async with webhook_receiver() as receiver:
        async with meta_gateway(tmp_path, WAPORT_WEBHOOK_URL=receiver.url) as (gateway, fake):
            root = {"Authorization": f"Bearer {gateway.key}"}
            async with aiohttp.ClientSession(headers=root) as http:
                signed = _image_webhook(fake, "MEDIA-LATE", "wamid.LATE", digest)
                await _deliver(http, gateway, signed)
                inbound = await _received(receiver, "wamid.LATE")
                await _media_status(http, gateway, inbound["message_id"], "failed")
            key = gateway.key
            await anyio.to_thread.run_sync(gateway.stop)
        seed = {"MEDIA-LATE": (PHOTO, "image/jpeg")}
        async with meta_gateway(tmp_path, seed, key, WAPORT_WEBHOOK_URL=receiver.url) as (
            gateway,
            fake,
        ):
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
                media = await _media_status(http, gateway, inbound["message_id"], "ready")
            log = await anyio.to_thread.run_sync(gateway.stop)
    assert media["sha256"] == digest
    assert fake.media_downloads == 1
    assert "queued again" in log


async def test_a_failed_media_stays_failed_across_a_restart(tmp_path: Path) -> None:
    """The failure is kept with the message: the next start reports it failed and, as
    the provider's bytes did not match its digest, does not fetch it again (a fresh
    photo after the start is fetched as usual)."""
    digest = hashlib.sha256(PHOTO).hexdigest()
    wrong = hashlib.sha256(b"other bytes").hexdigest()
    seed = {"MEDIA-BAD": (PHOTO, "image/jpeg"), "MEDIA-NEW": (PHOTO, "image/jpeg")}
    async with webhook_receiver() as receiver:
        env = {"WAPORT_WEBHOOK_URL": receiver.url}
        async with meta_gateway(tmp_path, seed, **env) as (gateway, fake):
            key = gateway.key
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
                await _deliver(http, gateway, _image_webhook(fake, "MEDIA-BAD", "wamid.B", wrong))
                bad_id = (await _received(receiver, "wamid.B"))["message_id"]
                await _media_status(http, gateway, bad_id, "failed")
        async with meta_gateway(tmp_path, seed, key=key, **env) as (gateway, fake):
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
                await _deliver(http, gateway, _image_webhook(fake, "MEDIA-NEW", "wamid.N", digest))
                new_id = (await _received(receiver, "wamid.N"))["message_id"]
                await _media_status(http, gateway, new_id, "ready")
                failed = await _media_status(http, gateway, bad_id, "failed")
                assert "MEDIA_FETCH_FAILED" in failed["error"]
            log = await anyio.to_thread.run_sync(gateway.stop)
    assert fake.media_downloads == 1  # the new photo only
    assert "Traceback" not in log
