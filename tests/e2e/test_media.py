"""Media over real HTTP against a real ``waport serve`` (issues 23 and 24): uploads
stream into the media store, a send names them by id, downloads honour ETag and Range,
other workspaces see nothing, and a 99 MB upload never becomes the gateway's memory."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp.test_utils import TestServer

from waport.domain.records import SCOPES, Workspace
from waport_http import auth
from waport_meta import fake as meta_fake
from waport_sqlite import open_sqlite

from .conftest import Server, rss_kib, waport_serve

pytestmark = pytest.mark.anyio
CONTACT = "255712345678"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


async def _other_workspace_key(folder: Path) -> str:
    """A key of a second workspace, written to the database before the gateway starts."""
    async with open_sqlite(str(folder / "waport.db")) as store:
        await store.workspaces.put(Workspace(id="other", name="Other"))
        new = auth.issue(
            workspace_id="other", scopes=frozenset(SCOPES), now=datetime.now(UTC), pepper=None
        )
        await store.api_keys.add(new.record)
    return new.secret


async def test_upload_send_by_id_and_download_with_etag_and_range(tmp_path: Path) -> None:
    with waport_serve(tmp_path) as server:
        other = await _other_workspace_key(tmp_path)  # beside the running gateway
        root = {"Authorization": f"Bearer {server.key}"}
        async with aiohttp.ClientSession(headers=root) as http:
            async with http.post(
                server.base + "/v1/media?filename=chart%20%C3%A9.png",
                data=PNG,
                headers={"Content-Type": "image/png"},
            ) as r:
                uploaded = await r.json()
                assert r.status == 201, uploaded
            data = uploaded["data"]
            assert data["media_id"].startswith("med_")
            assert (data["mime_type"], data["size"]) == ("image/png", len(PNG))
            assert data["sha256"] == hashlib.sha256(PNG).hexdigest()
            media_url = f"{server.base}/v1/media/{data['media_id']}"

            async with http.get(media_url) as r:
                assert r.status == 200
                assert await r.read() == PNG
                assert r.headers["Content-Type"] == "image/png"
                assert r.headers["Content-Length"] == str(len(PNG))
                assert r.headers["ETag"] == f'"{data["sha256"]}"'
                assert "filename*=UTF-8''chart%20%C3%A9.png" in r.headers["Content-Disposition"]
            async with http.get(media_url, headers={"Range": "bytes=0-9"}) as r:
                assert r.status == 206
                assert await r.read() == PNG[:10]
                assert r.headers["Content-Range"] == f"bytes 0-9/{len(PNG)}"
            async with http.get(media_url, headers={"Range": "bytes=-5"}) as r:
                assert (r.status, await r.read()) == (206, PNG[-5:])
            async with http.get(media_url, headers={"Range": f"bytes={len(PNG)}-"}) as r:
                assert r.status == 416
                assert (await r.json())["error"]["code"] == "RANGE_NOT_SATISFIABLE"
            async with http.get(
                media_url, headers={"If-None-Match": r'"x", ' + f'"{data["sha256"]}"'}
            ) as r:
                assert r.status == 304
            # another workspace's key: as if there were no such media
            async with http.get(media_url, headers={"Authorization": f"Bearer {other}"}) as r:
                assert r.status == 404
                assert (await r.json())["error"]["code"] == "MEDIA_NOT_FOUND"
            body = {"to": CONTACT, "sender_id": "sandbox-sender", "media": {"id": data["media_id"]}}
            async with http.post(
                server.base + "/v1/messages",
                json=body,
                headers={"Authorization": f"Bearer {other}"},
            ) as r:
                answer = await r.json()
                assert (r.status, answer["error"]["code"]) == (404, "MEDIA_NOT_FOUND"), answer

            # two sends by the id: the window is open, both go out with the stored bytes
            await http.post(
                server.base + "/v1/sandbox/inbound", json={"from": CONTACT, "text": "hi"}
            )
            sent = []
            for caption in ("one", "two"):
                media = {"id": data["media_id"], "caption": caption}
                async with http.post(
                    server.base + "/v1/messages", json={**body, "media": media}
                ) as r:
                    sent.append(await r.json())
                    assert r.status in (200, 201), sent[-1]
            assert [s["data"]["status"] for s in sent] == ["sent", "sent"]
            async with http.get(f"{server.base}/v1/messages/{sent[0]['data']['message_id']}") as r:
                view = await r.json()
            assert view["data"]["media"]["id"] == data["media_id"]
            assert "base64" not in str(view)

            # delete: gone for downloads and sends alike
            async with http.delete(media_url) as r:
                assert r.status == 200
            async with http.get(media_url) as r:
                assert r.status == 404
        log = server.stop()
    assert "Traceback" not in log, log[-4000:]


async def _multipart(size: int, boundary: str, fields: dict[str, str]) -> AsyncIterator[bytes]:
    """A multipart send with a ``size``-byte PDF, made as it is sent (never held)."""
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    )
    yield head.encode()
    block = b"%PDF" + os.urandom(65_532)
    left = size
    while left > 0:
        yield block[: min(left, len(block))]
        left -= len(block)
    yield f"\r\n--{boundary}--\r\n".encode()


async def _peak_rss_during(server: Server, work: Any) -> tuple[float, Any]:
    idle = rss_kib(server.process.pid)
    peak = idle

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss_kib(server.process.pid))
            await asyncio.sleep(0.05)

    watcher = asyncio.ensure_future(watch())
    try:
        result = await work
    finally:
        watcher.cancel()
    return (peak - idle) / 1024, result


async def test_a_99_mb_upload_download_and_send_stay_under_64_mb_of_memory(tmp_path: Path) -> None:
    size = 99 * 1024 * 1024
    with waport_serve(tmp_path) as server:
        root = {"Authorization": f"Bearer {server.key}"}
        timeout = aiohttp.ClientTimeout(total=300)
        async with aiohttp.ClientSession(headers=root, timeout=timeout) as http:
            await http.post(
                server.base + "/v1/sandbox/inbound", json={"from": CONTACT, "text": "hi"}
            )
            # a multipart send (scheduled: the upload alone is measured)
            later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
            boundary = "b0undary"

            async def send() -> dict[str, Any]:
                fields = {
                    "to": CONTACT,
                    "sender_id": "sandbox-sender",
                    "type": "document",
                    "scheduled_at": later,
                }
                async with http.post(
                    server.base + "/v1/messages",
                    data=_multipart(size, boundary, fields),
                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
                ) as r:
                    answer: dict[str, Any] = await r.json()
                    assert r.status in (200, 201, 202), answer
                    return answer

            grown_send, answer = await _peak_rss_during(server, send())
            assert answer["data"]["status"] == "scheduled"
            async with http.get(f"{server.base}/v1/messages/{answer['data']['message_id']}") as r:
                view = (await r.json())["data"]
            assert view["media"]["size"] == size  # stored whole, referenced by the message
            async with http.get(f"{server.base}/v1/media/{view['media']['id']}") as r:
                assert r.headers["Content-Length"] == str(size)

            # a raw upload and its download
            async def upload() -> dict[str, Any]:
                async def body() -> AsyncIterator[bytes]:
                    block = b"%PDF" + os.urandom(65_532)
                    for _ in range(size // len(block)):
                        yield block

                async with http.post(
                    server.base + "/v1/media?filename=big.pdf",
                    data=body(),
                    headers={"Content-Type": "application/pdf"},
                ) as r:
                    answer: dict[str, Any] = await r.json()
                    assert r.status == 201, answer
                    return answer

            grown_upload, uploaded = await _peak_rss_during(server, upload())

            async def download() -> int:
                got = 0
                async with http.get(f"{server.base}/v1/media/{uploaded['data']['media_id']}") as r:
                    assert r.status == 200
                    async for chunk in r.content.iter_chunked(1 << 20):
                        got += len(chunk)
                return got

            grown_download, got = await _peak_rss_during(server, download())

            # the upload sent by id: the provider reads it from the store as it sends
            async def send_upload() -> dict[str, Any]:
                body = {"to": CONTACT, "media": {"id": uploaded["data"]["media_id"]}}
                async with http.post(server.base + "/v1/messages", json=body) as r:
                    answer: dict[str, Any] = await r.json()
                    assert r.status in (200, 201, 202), answer
                    return answer

            grown_out, out = await _peak_rss_during(server, send_upload())
            assert out["data"]["status"] == "sent"
        log = server.stop()
    print(
        f"RSS growth MB: send {grown_send:.1f}, upload {grown_upload:.1f},"
        f" download {grown_download:.1f}, send by id {grown_out:.1f}"
    )
    assert grown_out < 64, grown_out
    assert got == uploaded["data"]["size"]
    assert grown_send < 64, grown_send
    assert grown_upload < 64, grown_upload
    assert grown_download < 64, grown_download
    assert "Traceback" not in log, log[-4000:]


async def test_an_upload_reaches_meta_once_for_many_sends(tmp_path: Path) -> None:
    """Upload once, send by id to three contacts through a real ``waport serve`` on the
    Meta adapter: the fake Graph API receives the bytes once, and every message names
    the media id it answered."""
    fake = meta_fake.FakeGraphApi()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    graph = fake.url = str(server.make_url("")).rstrip("/")  # its paging links point here
    env = {
        "WAPORT_PROVIDER": "meta",
        "WAPORT_META_TOKEN": meta_fake.TOKEN,
        "WAPORT_META_PHONE_NUMBER_IDS": meta_fake.PHONE_NUMBER_ID,
        "WAPORT_META_WABA_ID": meta_fake.WABA_ID,
        "WAPORT_META_APP_SECRET": meta_fake.APP_SECRET,
        "WAPORT_META_GRAPH_URL": graph,
    }
    # the gateway starts and stops from a thread: the fake answers on this loop meanwhile
    serving = waport_serve(tmp_path, env)
    try:
        gateway = await anyio.to_thread.run_sync(serving.__enter__)
        try:
            root = {"Authorization": f"Bearer {gateway.key}"}
            async with aiohttp.ClientSession(headers=root) as http:
                async with http.post(
                    gateway.base + "/v1/media",
                    data=PNG,
                    headers={"Content-Type": "image/png"},
                ) as r:
                    media_id = (await r.json())["data"]["media_id"]
                answers = []
                for n in range(3):
                    body = {
                        "to": f"25571234567{n}",
                        "sender_id": meta_fake.PHONE_NUMBER_ID,
                        "media": {"id": media_id, "caption": f"photo {n}"},
                        "check_window": False,
                    }
                    async with http.post(gateway.base + "/v1/messages", json=body) as r:
                        answers.append(await r.json())
            log = await anyio.to_thread.run_sync(gateway.stop)
        finally:
            await anyio.to_thread.run_sync(serving.__exit__, None, None, None)
    finally:
        await server.close()
    assert [a["data"]["status"] for a in answers] == ["sent"] * 3, answers
    assert len(fake.uploads) == 1, fake.uploads
    assert fake.uploads[0]["size"] == len(PNG)
    images = [p["image"] for p in fake.sent if p.get("type") == "image"]
    assert len(images) == 3
    assert len({image["id"] for image in images}) == 1
    assert "Traceback" not in log


async def test_an_upload_without_a_type_takes_it_from_its_file_name(tmp_path: Path) -> None:
    """A form's file part without a Content-Type (or as application/octet-stream, as
    many HTTP clients send it) is typed by its file name; so is a raw body by
    ?filename=. A name that tells nothing leaves unknown bytes (a document)."""
    boundary = "waport-test-boundary"
    form = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo.png"'
            f"\r\n\r\n"
        ).encode()
        + PNG
        + f"\r\n--{boundary}--\r\n".encode()
    )
    with waport_serve(tmp_path) as server:
        root = {"Authorization": f"Bearer {server.key}"}
        async with aiohttp.ClientSession(headers=root) as http:
            uploads = [
                (
                    "/v1/media",
                    form,
                    {"Content-Type": f"multipart/form-data; boundary={boundary}"},
                ),
                (
                    "/v1/media?filename=report.pdf",
                    b"%PDF-1.7 waport",
                    {"Content-Type": "application/octet-stream"},
                ),
                ("/v1/media?filename=notes", b"plain bytes", {}),
            ]
            types = []
            for path, data, headers in uploads:
                async with http.post(server.base + path, data=data, headers=headers) as r:
                    answer = await r.json()
                    assert r.status == 201, answer
                    types.append((answer["data"]["mime_type"], answer["data"]["filename"]))
    assert types == [
        ("image/png", "photo.png"),
        ("application/pdf", "report.pdf"),
        ("application/octet-stream", "notes"),
    ]
