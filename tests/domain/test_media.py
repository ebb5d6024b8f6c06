"""DESIGN §2 Media limits: sizes and MIME types per kind, kind inference, data URIs.

The oracle is written out here (5 MB images, 100 KB static stickers, ...), not
imported from waport.domain.limits.
"""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from waport import ErrorCode, MediaKind, WaportError, check_media, parse_send_request
from waport.domain.media import (
    DATA_URI_PATTERN,
    MIME_PATTERN,
    check_mime_syntax,
    infer_kind,
    parse_data_uri,
)

K = 1024
M = 1024 * 1024
ORACLE = {
    "image": (5 * M, {"image/jpeg", "image/png"}),
    "video": (16 * M, {"video/mp4", "video/3gpp"}),
    "audio": (16 * M, {"audio/aac", "audio/mp4", "audio/mpeg", "audio/amr", "audio/ogg"}),
    "sticker": (100 * K, {"image/webp"}),
}
ALL_MIMES = sorted(
    {m for _, mimes in ORACLE.values() for m in mimes}
    | {"application/pdf", "image/gif", "text/plain"}
)


@pytest.mark.parametrize("kind", list(ORACLE))
def test_at_the_limit_passes_and_one_more_byte_fails(kind: str) -> None:
    limit, mimes = ORACLE[kind]
    mime = sorted(mimes)[0]
    check_media(kind, mime, limit)
    with pytest.raises(WaportError) as info:
        check_media(kind, mime, limit + 1)
    assert info.value.code == ErrorCode.MEDIA_TOO_LARGE


def test_documents_up_to_100_mb_any_type() -> None:
    check_media("document", "application/x-custom", 100 * M)
    with pytest.raises(WaportError) as info:
        check_media("document", "application/pdf", 100 * M + 1)
    assert info.value.code == ErrorCode.MEDIA_TOO_LARGE


def test_animated_stickers_up_to_500_kb() -> None:
    check_media("sticker", "image/webp", 500 * K, animated=True)
    with pytest.raises(WaportError):
        check_media("sticker", "image/webp", 500 * K + 1, animated=True)
    with pytest.raises(WaportError):
        check_media("sticker", "image/webp", 100 * K + 1, animated=False)


@given(st.sampled_from(list(ORACLE)), st.sampled_from(ALL_MIMES), st.integers(0, 20 * M))
@example("image", "image/png", 5 * M)
@example("image", "image/gif", 1)
def test_mime_and_size_rules(kind: str, mime: str, size: int) -> None:
    limit, mimes = ORACLE[kind]
    try:
        check_media(kind, mime, size)
    except WaportError as err:
        if mime not in mimes:
            assert err.code == ErrorCode.MEDIA_TYPE_UNSUPPORTED
        else:
            assert err.code == ErrorCode.MEDIA_TOO_LARGE
            assert size > limit
    else:
        assert mime in mimes
        assert size <= limit


def test_ogg_must_be_opus() -> None:
    check_media("audio", "audio/ogg; codecs=opus", 10)
    with pytest.raises(WaportError) as info:
        check_media("audio", "audio/ogg; codecs=vorbis", 10)
    assert info.value.code == ErrorCode.MEDIA_TYPE_UNSUPPORTED


def test_unknown_kind() -> None:
    with pytest.raises(WaportError) as info:
        check_media("hologram", None, None)
    assert (info.value.code, info.value.param) == (ErrorCode.VALIDATION_FAILED, "type")


@pytest.mark.parametrize(
    ("mime", "url", "kind"),
    [
        ("image/png", None, MediaKind.IMAGE),
        ("image/webp", None, MediaKind.STICKER),
        ("video/mp4", None, MediaKind.VIDEO),
        ("audio/ogg", None, MediaKind.AUDIO),
        ("application/pdf", None, MediaKind.DOCUMENT),
        (None, "https://x.example/a/photo.JPG?x=1", MediaKind.IMAGE),
        (None, "https://x.example/voice.ogg", MediaKind.AUDIO),
        (None, "https://x.example/clip.mp4#t=2", MediaKind.VIDEO),
        (None, "https://x.example/invoice.pdf", MediaKind.DOCUMENT),
    ],
)
def test_kind_inference(mime: str | None, url: str | None, kind: MediaKind) -> None:
    assert infer_kind(mime=mime, url=url) == kind


@pytest.mark.parametrize(
    "url", ["https://x.example/download", "https://x.example/file.unknownext", None]
)
def test_uninferable_kind_names_media_type(url: str | None) -> None:
    with pytest.raises(WaportError) as info:
        infer_kind(url=url)
    assert (info.value.code, info.value.param) == (ErrorCode.VALIDATION_FAILED, "type")


def test_base64_media_is_checked_before_any_upload() -> None:
    too_big = base64.b64encode(b"\0" * (5 * M + 1)).decode()
    with pytest.raises(WaportError) as info:
        parse_send_request(
            {"to": "255712345678", "media": {"data": f"data:image/png;base64,{too_big}"}}
        )
    assert (info.value.code, info.value.param) == (ErrorCode.MEDIA_TOO_LARGE, "media")
    gif = base64.b64encode(b"GIF89a").decode()
    with pytest.raises(WaportError) as info:
        parse_send_request(
            {
                "to": "255712345678",
                "media": {"type": "image", "data": f"data:image/gif;base64,{gif}"},
            }
        )
    assert (info.value.code, info.value.param) == (
        ErrorCode.MEDIA_TYPE_UNSUPPORTED,
        "media.mime_type",
    )


@given(
    st.binary(max_size=200),
    st.sampled_from(["image/png", "audio/ogg; codecs=opus", "application/pdf"]),
)
def test_data_uri_round_trip(data: bytes, mime: str) -> None:
    uri = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    parsed = parse_data_uri(uri)
    assert parsed.data == data
    assert parsed.mime == mime


def test_url_kind_mismatch_with_declared_mime() -> None:
    with pytest.raises(WaportError) as info:
        parse_send_request(
            {
                "to": "255712345678",
                "media": {"type": "image", "url": "https://x.example/a", "mime_type": "image/gif"},
            }
        )
    assert info.value.code == ErrorCode.MEDIA_TYPE_UNSUPPORTED


@given(st.from_regex(DATA_URI_PATTERN, fullmatch=True))
def test_every_data_uri_of_the_documented_pattern_is_sent(uri: str) -> None:
    """The OpenAPI document states DATA_URI_PATTERN for media data; a fuzzer's valid
    data URI is one a send takes (its kind inferred from its type)."""
    message = parse_send_request({"to": "+4915112345678", "media": {"data": uri}})
    assert message.content.mode == "media"


@given(st.from_regex(MIME_PATTERN, fullmatch=True).filter(lambda m: len(m) <= 255))
def test_every_mime_type_of_the_documented_pattern_is_well_formed(mime: str) -> None:
    check_mime_syntax(mime, "mime_type")


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=40))
def test_a_well_formed_mime_type_matches_the_documented_pattern(mime: str) -> None:
    try:
        check_mime_syntax(mime, "mime_type")
    except WaportError:
        return
    assert re.fullmatch(MIME_PATTERN, mime)


@pytest.mark.parametrize("value", [{}, 5, None, ["data:image/png;base64,"]])
def test_a_data_uri_that_is_not_text_is_refused_by_name(value: object) -> None:
    with pytest.raises(WaportError) as info:
        parse_data_uri(value, param="media.data")
    assert (info.value.code, info.value.param) == (ErrorCode.VALIDATION_FAILED, "media.data")
