"""Media of waport's media store reaches a provider as a stream (``MediaStream``): WAHA
gets it as base64 inside its JSON body, encoded while the body is sent, with the
body's length said beforehand; Meta gets it as a multipart upload, read as it goes."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waport.domain.limits import MediaKind
from waport.domain.messages import Media, MediaStream, OutboundMessage
from waport.domain.recipients import parse_recipient
from waport_meta.fake import meta_harness
from waport_web import wire
from waport_web.fake import SESSION, web_harness
from waport_web.media import StreamedBody

pytestmark = pytest.mark.anyio


def _stream(data: bytes, cuts: list[int], mime: str = "application/pdf") -> MediaStream:
    """``data`` as a stream of chunks cut at ``cuts`` (each chunk read on demand)."""

    async def chunks() -> AsyncIterator[bytes]:
        start = 0
        for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
            if cut > start:
                yield data[start:cut]
                start = cut

    return MediaStream(
        mime=mime, size=len(data), sha256=hashlib.sha256(data).hexdigest(), open=chunks
    )


@given(st.binary(max_size=2_000), st.lists(st.integers(0, 2_000), max_size=8))
async def test_a_streamed_body_is_the_whole_body_and_says_its_length(
    data: bytes, cuts: list[int]
) -> None:
    body = {"file": {"mimetype": "application/pdf", "data": wire.STREAMED}, "session": "s"}
    streamed = StreamedBody.around(json.dumps(body).encode(), _stream(data, cuts))
    sent = b"".join([chunk async for chunk in streamed.chunks()])
    assert json.loads(sent)["file"]["data"] == base64.b64encode(data).decode()
    assert len(sent) == streamed.length


async def test_waha_gets_stored_media_as_base64_streamed_into_its_body() -> None:
    data = b"%PDF-1.7\n" + bytes(range(256)) * 2_000  # 512 KB, many chunks
    async with web_harness() as harness:
        assert harness.provider.capabilities.streams_media
        message = OutboundMessage(
            to=parse_recipient("255712345678"),
            content=Media(
                kind=MediaKind.DOCUMENT,
                source=_stream(data, list(range(0, len(data), 65_536))),
                filename="invoice.pdf",
            ),
        )
        await harness.provider.send(message, sender=SESSION, client_id="msg_1")
        path, body = harness.fake.sent[-1]
    assert path == "/api/sendFile"
    assert base64.b64decode(body["file"]["data"]) == data
    assert body["file"]["filename"] == "invoice.pdf"


async def test_meta_gets_stored_media_as_a_streamed_upload() -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 1_000
    async with meta_harness() as harness:
        assert harness.provider.capabilities.streams_media
        stream = _stream(data, [70_000, 140_000], mime="image/png")
        media_id = await harness.provider.upload_media(
            stream, sender=harness.sender_id, kind=MediaKind.IMAGE
        )
        upload = harness.fake.uploads[-1]
    assert media_id
    assert (upload["size"], upload["sha256"]) == (len(data), stream.sha256)
    assert upload["content_type"] == "image/png"
