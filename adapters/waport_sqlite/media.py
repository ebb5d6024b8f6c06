"""Media beside the SQLite file: a content-addressed folder (``<database>.media/``) of
files named by their sha256, and a ``media`` table of the ids that refer to them.

A file is written to a temporary name, fsync'd and renamed, so a reader never sees a
partial file; files are 0600 and the folder 0700, as they hold customers' photos and
documents. Identical bytes are kept once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import anyio
import attrs

from waport import codec
from waport.domain.messages import MediaData, MediaStored
from waport.domain.records import MediaObject, MessageRecord
from waport.domain.sources import media_of, with_source
from waport.storekit import Intake, from_us, media_not_found, to_us
from waport_sqlite.engine import Conn, _Reader, _Writer

_COLUMNS = "id, workspace_id, sha256, size, mime_type, filename, created_us"


def media_folder(database: str) -> Path | None:
    """The media folder of a database file; ``None`` for an in-memory database."""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None
    return Path(database + ".media")


def blob_path(folder: Path, sha256: str) -> Path:
    return folder / sha256[:2] / sha256


def _prepare(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)


def _open_temp(folder: Path) -> tuple[IO[bytes], str]:
    _prepare(folder)
    fd, name = tempfile.mkstemp(dir=folder, prefix=".in-")  # 0600
    return os.fdopen(fd, "wb"), name


def _settle(file: IO[bytes], temp: str, target: Path) -> None:
    """fsync the temporary file and move it to ``target`` (or drop it: the same bytes
    are there already)."""
    file.flush()
    os.fsync(file.fileno())
    file.close()
    if target.exists():
        os.unlink(temp)
        return
    target.parent.mkdir(mode=0o700, exist_ok=True)
    os.replace(temp, target)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_blob(folder: Path, data: bytes, sha256: str) -> None:
    """Keep ``data`` (whose digest is ``sha256``) in the folder; synchronous, for
    migrations."""
    file, temp = _open_temp(folder)
    try:
        file.write(data)
        _settle(file, temp, blob_path(folder, sha256))
    except BaseException:
        file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def insert_row(c: Conn, media: MediaObject) -> None:
    c.execute(
        f"INSERT INTO media ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            media.id,
            media.workspace_id,
            media.sha256,
            media.size,
            media.mime_type,
            media.filename,
            to_us(media.created_at),
        ),
    )


def _load(row: Any) -> MediaObject:
    media_id, workspace_id, sha256, size, mime_type, filename, created = row
    return MediaObject(
        id=media_id,
        workspace_id=workspace_id,
        sha256=sha256,
        size=size,
        mime_type=mime_type,
        filename=filename,
        created_at=from_us(created),
    )


@attrs.define
class SqliteMediaStore:
    folder: Path
    _reader: _Reader
    _writer: _Writer

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
        file, temp = await anyio.to_thread.run_sync(_open_temp, self.folder)
        try:
            async for chunk in chunks:
                intake.add(chunk)
                await anyio.to_thread.run_sync(file.write, chunk)
            target = blob_path(self.folder, intake.sha256)
            await anyio.to_thread.run_sync(_settle, file, temp, target)
        except BaseException:
            file.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        media = intake.media(
            media_id=media_id,
            workspace_id=workspace_id,
            mime_type=mime_type,
            created_at=created_at,
            filename=filename,
        )
        await self._writer.call(lambda c: insert_row(c, media))
        return media

    async def get(self, media_id: str) -> MediaObject | None:
        def read(c: Conn) -> MediaObject | None:
            row = c.execute(f"SELECT {_COLUMNS} FROM media WHERE id = ?", (media_id,)).fetchone()
            return _load(row) if row else None

        return await self._reader.point(read)

    async def read(self, media_id: str, *, chunk_size: int = 65_536) -> AsyncIterator[bytes]:
        media = await self.get(media_id)
        if media is None:
            raise media_not_found()
        try:
            file = await anyio.to_thread.run_sync(open, blob_path(self.folder, media.sha256), "rb")
        except FileNotFoundError:
            raise media_not_found() from None
        try:
            while chunk := await anyio.to_thread.run_sync(file.read, chunk_size):
                yield chunk
        finally:
            file.close()

    async def delete(self, media_id: str) -> bool:
        def write(c: Conn) -> tuple[bool, str | None]:
            row = c.execute(
                "DELETE FROM media WHERE id = ? RETURNING sha256", (media_id,)
            ).fetchone()
            if row is None:
                return False, None
            others = c.execute("SELECT 1 FROM media WHERE sha256 = ? LIMIT 1", (row[0],)).fetchone()
            return True, None if others else str(row[0])

        deleted, orphan = await self._writer.call(write)
        if orphan is not None:  # after the commit: a crash before it leaves the file, not a hole
            with contextlib.suppress(FileNotFoundError):
                await anyio.to_thread.run_sync(os.unlink, blob_path(self.folder, orphan))
        return deleted

    async def created_before(
        self, before: datetime, *, after: str = "", limit: int
    ) -> Sequence[MediaObject]:
        def read(c: Conn) -> list[MediaObject]:
            rows = c.execute(
                f"SELECT {_COLUMNS} FROM media WHERE id > ? AND created_us < ? ORDER BY id LIMIT ?",
                (after, to_us(before), limit),
            )
            return [_load(row) for row in rows]

        return await self._reader.call(read)


def move_inline_media(c: Conn, folder: Path) -> int:
    """Migration: every stored message whose document holds media bytes (written before
    the media store existed) gets them moved to the folder and a reference instead.
    Returns how many messages changed."""
    rows = c.execute(
        "SELECT id, workspace_id, created_us, doc FROM messages WHERE doc LIKE '%\"data:%'"
    ).fetchall()
    moved = 0
    for message_id, workspace_id, created, doc in rows:
        record = codec.loads(doc, MessageRecord)
        message = record.message
        media = media_of(message) if message is not None else None
        if message is None or media is None or not isinstance(media.source, MediaData):
            continue
        data = media.source
        sha256 = hashlib.sha256(data.data).hexdigest()
        write_blob(folder, data.data, sha256)
        media_id = f"med_{message_id}"
        insert_row(
            c,
            MediaObject(
                id=media_id,
                workspace_id=workspace_id,
                sha256=sha256,
                size=len(data.data),
                mime_type=data.mime,
                filename=media.filename,
                created_at=from_us(created),
            ),
        )
        stored = MediaStored(media_id=media_id, sha256=sha256, size=len(data.data), mime=data.mime)
        message = with_source(message, lambda _, ref=stored: ref)  # type: ignore[misc]
        c.execute(
            "UPDATE messages SET doc = ? WHERE id = ?",
            (codec.dumps(attrs.evolve(record, message=message)), message_id),
        )
        moved += 1
    return moved
