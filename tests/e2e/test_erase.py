"""``DELETE /v1/contacts/{phone}`` over real HTTP against a real ``waport serve`` (issue
25): after a contact's messages both ways, a photo they sent, a labelled contact, a
stored idempotent answer and a scheduled send, the erasure leaves no byte of their
number, their texts, their name or their photo in the database folder (the file, its
write-ahead log and the media beside it), while statuses stay for accounting."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from .conftest import Server, wait_for, waport_serve

pytestmark = pytest.mark.anyio
ENV = {"WAPORT_RATE_LIMIT_PER_MINUTE": "1000000"}
NUMBER = "255712349871"
PHOTO = b"\xff\xd8\xff\xe0" + b"PHOTO-OF-THE-ERASED-CONTACT-" * 40
SECRETS = (
    NUMBER.encode(),
    b"my account number is 4471-SECRET",
    b"your parcel waits at GATE-SECRET",
    b"Zed Erasable",
    b"PHOTO-OF-THE-ERASED-CONTACT",
    base64.b64encode(NUMBER.encode()),
)


async def _call(
    http: aiohttp.ClientSession,
    gateway: Server,
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    async with http.request(method, gateway.base + path, json=body, headers=headers) as r:
        return r.status, await r.json()


def _found(folder: Path) -> list[str]:
    """Which secrets appear in which file of the gateway's folder."""
    hits = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits.extend(f"{path.name}: {s!r}" for s in SECRETS if s in data)
    return hits


async def test_an_erased_contact_leaves_nothing_in_the_database(tmp_path: Path) -> None:
    with waport_serve(tmp_path, ENV) as gateway:
        root = {"Authorization": f"Bearer {gateway.key}"}
        async with aiohttp.ClientSession(headers=root) as http:
            said = {"from": NUMBER, "text": "my account number is 4471-SECRET"}
            status, inbound = await _call(http, gateway, "POST", "/v1/sandbox/inbound", said)
            assert status == 200, inbound
            photo = "data:image/jpeg;base64," + base64.b64encode(PHOTO).decode()
            status, pictured = await _call(
                http,
                gateway,
                "POST",
                "/v1/sandbox/inbound",
                {"from": NUMBER, "media": {"data": photo}},
            )
            assert status == 200, pictured

            async def photo_ready() -> bool:
                _, got = await _call(
                    http, gateway, "GET", f"/v1/messages/{pictured['data']['message_id']}"
                )
                return bool(got["data"]["media"]["status"] == "ready")

            await wait_for(photo_ready, limit=30, interval=0.1)
            media_id = (
                await _call(http, gateway, "GET", f"/v1/messages/{pictured['data']['message_id']}")
            )[1]["data"]["media"]["id"]
            reply = {
                "to": NUMBER,
                "sender_id": "sandbox-sender",
                "text": {"body": "your parcel waits at GATE-SECRET"},
                "metadata": {"customer": "Zed Erasable"},
            }
            key = {"Idempotency-Key": "erase-me-1"}
            status, sent = await _call(http, gateway, "POST", "/v1/messages", reply, headers=key)
            assert status in (200, 202), sent
            later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
            scheduled = {**reply, "scheduled_at": later, "text": {"body": "GATE-SECRET soon"}}
            status, queued = await _call(http, gateway, "POST", "/v1/messages", scheduled)
            assert status == 202, queued
            change = {"name": "Zed Erasable", "labels": {"add": ["vip"]}}
            status, _ = await _call(http, gateway, "PATCH", f"/v1/contacts/{NUMBER}", change)
            assert status == 200
            other = {
                "to": "255700000001",
                "sender_id": "sandbox-sender",
                "template": {"name": "hello_world", "language": "en_US"},
            }
            status, kept = await _call(http, gateway, "POST", "/v1/messages", other)
            assert status in (200, 202), kept
            assert _found(tmp_path), "the secrets are stored before the erasure"

            status, erased = await _call(http, gateway, "DELETE", f"/v1/contacts/+{NUMBER}")
            assert status == 200, erased
            data = erased["data"]
            assert data["messages"] == 4
            assert data["media"] == 1
            alias = data["pseudonym"]
            assert alias.startswith("erased:")

            status, got = await _call(
                http, gateway, "GET", f"/v1/messages/{sent['data']['message_id']}"
            )
            assert got["data"]["to"] == alias
            assert got["data"]["status"] in ("sent", "delivered", "read")
            assert "metadata" not in got["data"]
            status, got = await _call(
                http, gateway, "GET", f"/v1/messages/{queued['data']['message_id']}"
            )
            assert (got["data"]["status"], got["data"]["error"]["code"]) == (
                "failed",
                "CONTACT_ERASED",
            )
            status, got = await _call(
                http, gateway, "GET", f"/v1/messages/{inbound['data']['message_id']}"
            )
            assert (got["data"]["from"], got["data"].get("text")) == (alias, None)
            status, got = await _call(http, gateway, "GET", f"/v1/contacts/{NUMBER}")
            assert (status, got["error"]["code"]) == (404, "NOT_FOUND")
            async with http.get(f"{gateway.base}/v1/media/{media_id}") as r:
                assert r.status == 404
            status, listed = await _call(http, gateway, "GET", f"/v1/messages?contact={NUMBER}")
            assert listed["data"] == []
            status, replay = await _call(http, gateway, "POST", "/v1/messages", reply, headers=key)
            assert replay["data"]["message_id"] == sent["data"]["message_id"]
            assert replay["data"]["erased"] is True
            assert NUMBER not in str(replay)
            status, other_now = await _call(
                http, gateway, "GET", f"/v1/messages/{kept['data']['message_id']}"
            )
            assert other_now["data"]["to"] == "255700000001"

            assert _found(tmp_path) == []
            # erasing again, or a number never seen, changes nothing
            status, again = await _call(http, gateway, "DELETE", f"/v1/contacts/{NUMBER}")
            assert (status, again["data"]["messages"]) == (200, 0)
        log = await anyio.to_thread.run_sync(gateway.stop)
    assert "Traceback" not in log
