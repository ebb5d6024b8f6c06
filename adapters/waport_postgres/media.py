"""Media in PostgreSQL: ``media`` rows (ids) over ``media_chunks`` (the bytes by sha256,
in chunks of at most 1 MiB). A write streams its chunks under a provisional key and
renames them to the digest when it is known; a read fetches one chunk at a time."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from waport import codec
from waport.domain.messages import MediaData, MediaStored
from waport.domain.records import MediaObject, MessageRecord
from waport.domain.sources import media_of, with_source
from waport.storekit import Intake, from_us, media_not_found, to_us

Conn = Any  # an asyncpg connection
PART: Final = 1024 * 1024
_COLUMNS: Final = "id, workspace_id, sha256, size, mime_type, filename, created_us"


async def _keep(c: Conn, media: MediaObject, provisional: str) -> None:
    """Name the provisional chunks by their digest (or drop them: the bytes are there)
    and record the id, in one transaction."""
    async with c.transaction():
        await c.execute("SELECT pg_advisory_xact_lock(hashtext($1))", media.sha256)
        if await c.fetchval("SELECT 1 FROM media_chunks WHERE blob = $1 LIMIT 1", media.sha256):
            await c.execute("DELETE FROM media_chunks WHERE blob = $1", provisional)
        else:
            await c.execute(
                "UPDATE media_chunks SET blob = $1 WHERE blob = $2", media.sha256, provisional
            )
        await c.execute(
            f"INSERT INTO media ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            media.id,
            media.workspace_id,
            media.sha256,
            media.size,
            media.mime_type,
            media.filename,
            to_us(media.created_at),
        )


def _load(row: Any) -> MediaObject:
    return MediaObject(
        id=row["id"],
        workspace_id=row["workspace_id"],
        sha256=row["sha256"],
        size=row["size"],
        mime_type=row["mime_type"],
        filename=row["filename"],
        created_at=from_us(row["created_us"]),
    )


@attrs.define
class PostgresMediaStore:
    pool: Any

    async def put(
        self,
        chunks: AsyncIterable[bytes],
        *,
        media_id: str,
        workspace_id: str,
        mime_type: str,
        created_at: datetime,
        max_size: int,
        filename: str | None = None,
    ) -> MediaObject:
        intake = Intake(max_size)
        provisional = f"in:{media_id}"
        seq = 0
        part = bytearray()
        async with self.pool.acquire() as c:
            try:
                async for chunk in chunks:
                    intake.add(chunk)
                    part.extend(chunk)
                    while len(part) >= PART:
                        await c.execute(
                            "INSERT INTO media_chunks (blob, seq, data) VALUES ($1, $2, $3)",
                            provisional,
                            seq,
                            bytes(part[:PART]),
                        )
                        del part[:PART]
                        seq += 1
                if part or seq == 0:
                    await c.execute(
                        "INSERT INTO media_chunks (blob, seq, data) VALUES ($1, $2, $3)",
                        provisional,
                        seq,
                        bytes(part),
                    )
                media = intake.media(
                    media_id=media_id,
                    workspace_id=workspace_id,
                    mime_type=mime_type,
                    created_at=created_at,
                    filename=filename,
                )
                await _keep(c, media, provisional)
            except BaseException:
                await c.execute("DELETE FROM media_chunks WHERE blob = $1", provisional)
                raise
        return media

    async def get(self, media_id: str) -> MediaObject | None:
        async with self.pool.acquire() as c:
            row = await c.fetchrow(f"SELECT {_COLUMNS} FROM media WHERE id = $1", media_id)
        return _load(row) if row else None

    async def read(self, media_id: str, *, chunk_size: int = 65_536) -> AsyncIterator[bytes]:
        media = await self.get(media_id)
        if media is None:
            raise media_not_found()
        seq = 0
        while True:
            async with self.pool.acquire() as c:
                data = await c.fetchval(
                    "SELECT data FROM media_chunks WHERE blob = $1 AND seq = $2", media.sha256, seq
                )
            if data is None:
                return
            for start in range(0, len(data), chunk_size):
                yield bytes(data[start : start + chunk_size])
            seq += 1

    async def delete(self, media_id: str) -> bool:
        async with self.pool.acquire() as c, c.transaction():
            sha256 = await c.fetchval("DELETE FROM media WHERE id = $1 RETURNING sha256", media_id)
            if sha256 is None:
                return False
            await c.execute("SELECT pg_advisory_xact_lock(hashtext($1))", sha256)
            if not await c.fetchval("SELECT 1 FROM media WHERE sha256 = $1 LIMIT 1", sha256):
                await c.execute("DELETE FROM media_chunks WHERE blob = $1", sha256)
        return True

    async def created_before(
        self, before: datetime, *, after: str = "", limit: int
    ) -> Sequence[MediaObject]:
        async with self.pool.acquire() as c:
            rows = await c.fetch(
                f"SELECT {_COLUMNS} FROM media WHERE id > $1 AND created_us < $2"
                " ORDER BY id LIMIT $3",
                after,
                to_us(before),
                limit,
            )
        return [_load(row) for row in rows]


async def move_inline_media(c: Conn) -> int:
    """Migration: stored messages that hold media bytes get a reference instead."""
    rows = await c.fetch(
        "SELECT id, workspace_id, created_us, doc FROM messages WHERE doc LIKE '%\"data:%'"
    )
    moved = 0
    for row in rows:
        record = codec.loads(row["doc"], MessageRecord)
        message = record.message
        media = media_of(message) if message is not None else None
        if message is None or media is None or not isinstance(media.source, MediaData):
            continue
        data = media.source.data
        sha256 = hashlib.sha256(data).hexdigest()
        if not await c.fetchval("SELECT 1 FROM media_chunks WHERE blob = $1 LIMIT 1", sha256):
            for seq, start in enumerate(range(0, max(len(data), 1), PART)):
                await c.execute(
                    "INSERT INTO media_chunks (blob, seq, data) VALUES ($1, $2, $3)",
                    sha256,
                    seq,
                    data[start : start + PART],
                )
        media_id = f"med_{row['id']}"
        await c.execute(
            f"INSERT INTO media ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            media_id,
            row["workspace_id"],
            sha256,
            len(data),
            media.source.mime,
            media.filename,
            row["created_us"],
        )
        stored = MediaStored(
            media_id=media_id, sha256=sha256, size=len(data), mime=media.source.mime
        )
        message = with_source(message, lambda _, ref=stored: ref)  # type: ignore[misc]
        await c.execute(
            "UPDATE messages SET doc = $1 WHERE id = $2",
            codec.dumps(attrs.evolve(record, message=message)),
            row["id"],
        )
        moved += 1
    return moved
