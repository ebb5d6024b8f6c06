"""A database written by the previous waport (schema 2: messages as REST documents with
their media bytes inline) opens, migrates (the bytes move to the media folder) and
serves its messages, and a queued one still goes out with its bytes."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from waport.domain.messages import Media, MediaData, MediaStored
from waport.service import Messenger
from waport.testing import FakeClock, SequentialIds
from waport_memory import SandboxProvider
from waport_sqlite import open_sqlite

pytestmark = pytest.mark.anyio

FIXTURE = Path(__file__).parent / "fixtures" / "v2_with_inline_media.db"
IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 400  # as make_v2_database.py wrote it


async def test_a_previous_database_migrates_its_media_out_and_serves_it(tmp_path: Path) -> None:
    path = tmp_path / "waport.db"
    shutil.copy(FIXTURE, path)
    clock = FakeClock()
    async with open_sqlite(str(path)) as store:
        provider = SandboxProvider(clock=clock)
        async with Messenger(
            store=store, provider=provider, clock=clock, ids=SequentialIds(100)
        ) as m:
            sent = await m.get_message("msg_000002")
            queued = await m.get_message("msg_000003")
            for record in (sent, queued):
                assert record.message is not None
                media = record.message.content
                assert isinstance(media, Media)
                assert isinstance(media.source, MediaStored)
                assert media.source.size == len(IMAGE)
            assert sent.status.value == "sent"
            await m.dispatch_once()
            assert [s.client_id for s in provider.sent] == ["msg_000003"]
            content = provider.sent[0].message.content
            assert isinstance(content, Media)
            assert isinstance(content.source, MediaData)
            assert content.source.data == IMAGE  # the provider gets the bytes back
            # schema 6 filled in each message's mode: the listing filters by it
            media_ids = [r.id for r in (await m.list_messages(mode="media")).messages]
            assert media_ids == ["msg_000003", "msg_000002"]
            everyone = {r.id for r in (await m.list_messages()).messages}
            assert everyone - set(media_ids)  # the rest are other modes
            # schema 7 filled in the conversations: each names its newest message
            chats = (await m.list_conversations()).conversations
            assert chats
            for row in chats:
                chat = row.conversation
                newest = await m.list_messages(contact=chat.contact, sender_id=chat.sender_id)
                assert chat.last.id == newest.messages[0].id
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 4
        stored = conn.execute("SELECT doc, history FROM messages").fetchall()
        assert all("base64" not in doc and len(doc) < 2_000 for doc, _ in stored)
        # schema 4 split the documents: the history is a column, the document the rest
        assert all('"history"' not in doc and history for doc, history in stored)
        rows = conn.execute("SELECT id, sha256, size FROM media ORDER BY id").fetchall()
        assert [r[0] for r in rows] == ["med_msg_000002", "med_msg_000003"]
        assert len({r[1] for r in rows}) == 1  # the same bytes, kept once
    files = [p for p in (tmp_path / "waport.db.media").rglob("*") if p.is_file()]
    assert len(files) == 1
    assert files[0].read_bytes() == IMAGE
    assert oct(files[0].stat().st_mode & 0o777) == "0o600"
