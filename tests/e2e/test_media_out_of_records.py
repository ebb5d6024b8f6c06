"""A 1 MB image sent through a real ``waport serve``: its bytes go to the media folder,
not the database, and the message reads back as a reference."""

from __future__ import annotations

import base64
import io
import json
import os
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from .conftest import waport_serve

pytestmark = pytest.mark.anyio

IMAGE = b"\x89PNG\r\n\x1a\n" + os.urandom(1024 * 1024)


def _database_bytes(folder: Path) -> int:
    """The bytes the database's pages hold (free pages not counted)."""
    with sqlite3.connect(folder / "waport.db") as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


async def test_a_one_megabyte_image_stays_out_of_the_database(tmp_path: Path) -> None:
    with waport_serve(tmp_path) as server:
        headers = {"Authorization": f"Bearer {server.key}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            await http.post(
                server.base + "/v1/sandbox/inbound", json={"from": "255712345678", "text": "hi"}
            )
            before = _database_bytes(tmp_path)
            body = {
                "to": "255712345678",
                "media": {"data": "data:image/png;base64," + base64.b64encode(IMAGE).decode()},
            }
            payload = io.BytesIO(json.dumps(body).encode())  # aiohttp streams a file object
            async with http.post(
                server.base + "/v1/messages",
                data=payload,
                headers={"Content-Type": "application/json"},
            ) as r:
                assert r.status == 200, await r.text()
                message_id = (await r.json())["data"]["message_id"]
            async with http.get(f"{server.base}/v1/messages/{message_id}") as r:
                raw = await r.read()
                assert r.status == 200
            grown = _database_bytes(tmp_path) - before
    assert grown < 64 * 1024, grown
    assert len(raw) < 8 * 1024, len(raw)
    assert b"base64" not in raw
    media = json.loads(raw)["data"]["content"]
    assert (media["size"], media["mime_type"]) == (len(IMAGE), "image/png")
    assert media["id"].startswith("med_")
    files = [p for p in (tmp_path / "waport.db.media").rglob("*") if p.is_file()]
    assert [f.read_bytes() == IMAGE for f in files] == [True]
