"""Media of the media store goes to a provider that keeps uploads (Meta) once per sender
and bytes: concurrent sends share one upload, the id is reused while it lasts, and a
send that fails with it makes the next one upload anew."""

from __future__ import annotations

import base64
from datetime import timedelta

import anyio
import attrs
import pytest

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.limits import MediaKind
from waport.domain.messages import MediaData, MediaId, MediaStream
from waport.ports import Capabilities
from waport.service import Messenger, SendResult
from waport.testing import FakeClock, SequentialIds
from waport_memory import MemoryStore, SandboxProvider

pytestmark = pytest.mark.anyio
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
DATA = "data:image/png;base64," + base64.b64encode(PNG).decode()


def _image(n: int) -> dict[str, object]:
    return {"to": f"2557000000{n:02d}", "media": {"data": DATA}, "check_window": False}


@attrs.define(kw_only=True)
class UploadingSandbox(SandboxProvider):
    """The sandbox as a provider that keeps uploads (like Meta), counting them."""

    uploads: list[str] = attrs.Factory(list)

    @property
    def capabilities(self) -> Capabilities:
        return attrs.evolve(super().capabilities, uploaded_media_ttl=timedelta(days=30))

    async def upload_media(
        self, media: MediaData | MediaStream, *, sender: str, kind: MediaKind
    ) -> str:
        await anyio.sleep(0.01)  # slow enough for the other sends to arrive meanwhile
        media_id = await super().upload_media(media, sender=sender, kind=kind)
        self.uploads.append(media_id)
        return media_id


async def test_concurrent_sends_share_one_upload_and_reuse_it() -> None:
    clock = FakeClock()
    sandbox = UploadingSandbox(clock=clock, enforce_window=False)
    uploads = sandbox.uploads
    async with Messenger(
        store=MemoryStore(), provider=sandbox, clock=clock, ids=SequentialIds()
    ) as messenger:
        results: list[SendResult] = []

        async def send(n: int) -> None:
            results.append(await messenger.send(_image(n)))

        async with anyio.create_task_group() as tg:
            for n in range(20):
                tg.start_soon(send, n)
        assert {r.status.value for r in results} == {"sent"}
        assert len(uploads) == 1
        sent_ids = {s.message.content.source for s in sandbox.sent}  # type: ignore[union-attr]
        assert sent_ids == {MediaId(uploads[0])}

        # a failed send with the id forgets it: the next send uploads again
        sandbox.script(fail_with=ErrorCode.MEDIA_TYPE_UNSUPPORTED)
        failed = await messenger.send(_image(30))
        assert failed.status.value == "failed"
        again = await messenger.send(_image(31))
        assert again.status.value == "sent"
        assert len(uploads) == 2

        # past most of the provider's lifetime, the id is not used any more
        clock.advance(days=28)
        await messenger.send(_image(32))
        assert len(uploads) == 3


async def test_the_library_uploads_sends_by_id_and_opens_media() -> None:
    clock = FakeClock()
    sandbox = SandboxProvider(clock=clock, enforce_window=False)
    async with Messenger(
        store=MemoryStore(), provider=sandbox, clock=clock, ids=SequentialIds()
    ) as messenger:
        upload = await messenger.upload_media(PNG, mime_type="image/png", filename="a.png")
        assert (upload.size, upload.mime_type, upload.filename) == (len(PNG), "image/png", "a.png")
        result = await messenger.send(
            {"to": "255700000001", "media": {"id": upload.id}, "check_window": False}
        )
        assert result.status.value == "sent"
        # the sandbox takes bytes with each send: it got the stored ones back
        assert sandbox.sent[-1].message.content.source.data == PNG  # type: ignore[union-attr]
        found, chunks = await messenger.open_media(upload.id)
        assert found == upload
        assert b"".join([c async for c in chunks]) == PNG
        with pytest.raises(WaportError) as other:
            await messenger.open_media(upload.id, workspace_id="another")
        assert other.value.code is ErrorCode.MEDIA_NOT_FOUND
        with pytest.raises(WaportError) as wrong:
            await messenger.upload_media(b"%PDF", mime_type="image/gif")
        assert wrong.value.code is ErrorCode.MEDIA_TYPE_UNSUPPORTED
        with pytest.raises(WaportError) as empty:
            await messenger.upload_media(b"", mime_type="application/pdf")
        assert (empty.value.code, empty.value.param) == (ErrorCode.VALIDATION_FAILED, "file")


async def test_retention_deletes_old_media_but_not_what_a_scheduled_send_needs() -> None:
    clock = FakeClock()  # starts 2026-01-01
    sandbox = SandboxProvider(clock=clock, enforce_window=False)
    async with Messenger(
        store=MemoryStore(), provider=sandbox, clock=clock, ids=SequentialIds()
    ) as messenger:
        needed = await messenger.upload_media(PNG, mime_type="image/png")
        forgotten = await messenger.upload_media(PNG + b"!", mime_type="image/png")
        later = {
            "to": "255700000001",
            "media": {"id": needed.id},
            "check_window": False,
            "scheduled_at": "2026-03-01T00:00:00Z",
        }
        assert (await messenger.send(later)).status.value == "scheduled"
        clock.advance(days=29)
        recent = await messenger.upload_media(b"%PDF-1.4", mime_type="application/pdf")
        await messenger.housekeeping()
        assert await messenger.store.media.get(forgotten.id) is not None  # 29 days: kept

        clock.advance(days=2)
        await messenger.housekeeping()
        assert await messenger.store.media.get(forgotten.id) is None
        assert await messenger.store.media.get(needed.id) is not None  # a send waits for it
        assert await messenger.store.media.get(recent.id) is not None

        clock.advance(days=30)  # March: the scheduled send goes out with it, then it may go
        await messenger.dispatch_once()
        assert sandbox.sent[-1].message.content.source.data == PNG  # type: ignore[union-attr]
        await messenger.housekeeping()
        assert await messenger.store.media.get(needed.id) is None
        assert await messenger.store.media.get(recent.id) is None

        messenger.policy = attrs.evolve(messenger.policy, media_retention=None)
        kept = await messenger.upload_media(PNG, mime_type="image/png")
        clock.advance(days=400)
        await messenger.housekeeping()
        assert await messenger.store.media.get(kept.id) is not None
