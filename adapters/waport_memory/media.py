"""Media in memory: bytes by sha256, objects by id (for tests and harnesses)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import datetime

import attrs

from waport.domain.records import MediaObject
from waport.storekit import Intake, media_not_found


@attrs.define
class MemoryMediaStore:
    _blobs: dict[str, bytes] = attrs.Factory(dict)
    _objects: dict[str, MediaObject] = attrs.Factory(dict)

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
        parts: list[bytes] = []
        async for chunk in chunks:
            intake.add(chunk)
            parts.append(chunk)
        self._blobs.setdefault(intake.sha256, b"".join(parts))
        media = intake.media(
            media_id=media_id,
            workspace_id=workspace_id,
            mime_type=mime_type,
            created_at=created_at,
            filename=filename,
        )
        self._objects[media_id] = media
        return media

    async def get(self, media_id: str) -> MediaObject | None:
        return self._objects.get(media_id)

    async def read(self, media_id: str, *, chunk_size: int = 65_536) -> AsyncIterator[bytes]:
        media = self._objects.get(media_id)
        if media is None:
            raise media_not_found()
        data = self._blobs[media.sha256]
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    async def delete(self, media_id: str) -> bool:
        media = self._objects.pop(media_id, None)
        if media is None:
            return False
        if all(o.sha256 != media.sha256 for o in self._objects.values()):
            self._blobs.pop(media.sha256, None)
        return True

    async def created_before(
        self, before: datetime, *, after: str = "", limit: int
    ) -> Sequence[MediaObject]:
        old = sorted(
            (m for m in self._objects.values() if m.created_at < before and m.id > after),
            key=lambda m: m.id,
        )
        return old[:limit]

    def blob_count(self) -> int:
        return len(self._blobs)
