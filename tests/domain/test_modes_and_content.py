"""DESIGN §2 "Exactly one mode" and "Content limits", as properties at the boundaries."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from waport import ErrorCode, WaportError, parse_send_request
from waport.testing.strategies import ids, json_values

TO = "255712345678"
VALID_MODES: dict[str, Any] = {
    "text": "Hello",
    "template": {"name": "hello_world", "language": "en_US"},
    "media": {"type": "image", "url": "https://cdn.example.com/a.png"},
    "interactive": {"type": "buttons", "body": "Pick", "buttons": [{"id": "y", "title": "Yes"}]},
    "location": {"latitude": -6.8, "longitude": 39.28},
    "contacts": [{"name": {"formatted_name": "Ana"}}],
    "reaction": {"message_id": "wamid.1", "emoji": "👍"},
}
ALL_MODES = tuple(VALID_MODES)


def error_of(body: Any) -> WaportError:
    with pytest.raises(WaportError) as info:
        parse_send_request(body)
    return info.value


@given(st.sets(st.sampled_from(ALL_MODES)))
def test_exactly_one_mode(modes: set[str]) -> None:
    body: dict[str, Any] = {"to": TO, "sender_id": "s1", **{m: VALID_MODES[m] for m in modes}}
    if not modes:
        assert error_of(body).code == ErrorCode.MODE_REQUIRED
    elif len(modes) == 1:
        assert parse_send_request(body).mode == next(iter(modes))
    else:
        err = error_of(body)
        assert err.code == ErrorCode.MODE_CONFLICT
        assert set(err.details) == modes
        assert set(err.param.split(",")) == modes  # type: ignore[union-attr]


@pytest.mark.parametrize(("a", "b"), list(combinations(ALL_MODES, 2)))
def test_every_pair_conflicts(a: str, b: str) -> None:
    err = error_of({"to": TO, a: VALID_MODES[a], b: VALID_MODES[b]})
    assert err.code == ErrorCode.MODE_CONFLICT
    assert {a, b} <= set(err.details)


def test_null_modes_do_not_count() -> None:
    assert parse_send_request({"to": TO, "text": "hi", "media": None}).mode == "text"


@pytest.mark.parametrize("option", ["caption", "header", "footer", "buttons", "filename"])
def test_options_of_another_mode_are_refused(option: str) -> None:
    err = error_of({"to": TO, "text": "hi", option: "x"})
    assert err.code == ErrorCode.VALIDATION_FAILED
    assert err.param == option


@given(st.integers(1, 4200))
@example(4096)
@example(4097)
@example(1)
def test_text_body_is_1_to_4096_characters(n: int) -> None:
    body = {"to": TO, "text": "a" * n}
    if n <= 4096:
        assert parse_send_request(body).content.body == "a" * n  # type: ignore[union-attr]
    else:
        err = error_of(body)
        assert (err.code, err.param) == (ErrorCode.VALIDATION_FAILED, "text.body")


@given(st.text(" \t\n\u00a0\u2003", min_size=0, max_size=10))
def test_blank_text_is_refused(blank: str) -> None:
    err = error_of({"to": TO, "text": {"body": blank}})
    assert err.code == ErrorCode.VALIDATION_FAILED
    assert err.param == "text.body"


@given(st.integers(0, 1100))
@example(1024)
@example(1025)
def test_caption_at_most_1024(n: int) -> None:
    body = {
        "to": TO,
        "media": {"type": "image", "url": "https://x.example/a.png", "caption": "c" * n},
    }
    if n <= 1024:
        parse_send_request(body)
    else:
        assert error_of(body).param == "media.caption"


@pytest.mark.parametrize("kind", ["audio", "sticker"])
def test_no_caption_on_audio_or_sticker(kind: str) -> None:
    url = "https://x.example/a.ogg" if kind == "audio" else "https://x.example/a.webp"
    err = error_of({"to": TO, "media": {"type": kind, "url": url, "caption": "hi"}})
    assert (err.code, err.param) == (ErrorCode.CAPTION_NOT_ALLOWED, "media.caption")


@given(st.integers(1, 300))
@example(255)
@example(256)
def test_document_filename_at_most_255(n: int) -> None:
    body = {
        "to": TO,
        "media": {"type": "document", "url": "https://x.example/a.pdf", "filename": "f" * n},
    }
    if n <= 255:
        parse_send_request(body)
    else:
        assert error_of(body).param == "media.filename"


def buttons(n: int, title: int = 5, id_len: int = 3) -> list[dict[str, str]]:
    return [
        {"type": "reply", "id": f"{i}".rjust(id_len, "x"), "title": "t" * title} for i in range(n)
    ]


@given(st.integers(0, 5), st.integers(1, 25), st.integers(3, 260))
@example(3, 20, 256)
@example(4, 20, 256)
@example(3, 21, 256)
@example(3, 20, 257)
def test_reply_buttons(count: int, title: int, id_len: int) -> None:
    body = {
        "to": TO,
        "interactive": {"type": "buttons", "body": "b", "buttons": buttons(count, title, id_len)},
    }
    ok = 1 <= count <= 3 and title <= 20 and id_len <= 256
    if ok:
        parse_send_request(body)
    else:
        err = error_of(body)
        assert err.code == ErrorCode.VALIDATION_FAILED
        assert err.param is not None
        assert err.param.startswith("interactive.buttons")


@given(st.integers(1, 1100))
@example(1024)
@example(1025)
def test_button_body_at_most_1024(n: int) -> None:
    body = {"to": TO, "interactive": {"type": "buttons", "body": "b" * n, "buttons": buttons(1)}}
    if n <= 1024:
        parse_send_request(body)
    else:
        assert error_of(body).param == "interactive.body"


@given(st.integers(1, 4200))
@example(4096)
@example(4097)
def test_list_body_at_most_4096(n: int) -> None:
    body = {
        "to": TO,
        "interactive": {
            "type": "list",
            "body": "b" * n,
            "button": "Go",
            "sections": [{"rows": [{"id": "a", "title": "A"}]}],
        },
    }
    if n <= 4096:
        parse_send_request(body)
    else:
        assert error_of(body).param == "interactive.body"


@given(st.integers(0, 70), st.integers(0, 70))
@example(60, 60)
@example(61, 0)
@example(0, 61)
def test_header_and_footer_at_most_60(header: int, footer: int) -> None:
    inter: dict[str, Any] = {"type": "buttons", "body": "b", "buttons": buttons(1)}
    if header:
        inter["header"] = {"type": "text", "text": "h" * header}
    if footer:
        inter["footer"] = "f" * footer
    body = {"to": TO, "interactive": inter}
    if header <= 60 and footer <= 60:
        parse_send_request(body)
    else:
        assert error_of(body).param in ("interactive.header.text", "interactive.footer")


@given(st.lists(st.integers(1, 4), min_size=1, max_size=12), st.booleans())
def test_list_rows_sections_and_titles(rows_per_section: list[int], titled: bool) -> None:
    counter = iter(range(1000))
    sections = [
        {
            **({"title": f"S{i}"} if titled else {}),
            "rows": [{"id": f"r{next(counter)}", "title": "R"} for _ in range(n)],
        }
        for i, n in enumerate(rows_per_section)
    ]
    body = {
        "to": TO,
        "interactive": {"type": "list", "body": "b", "button": "Go", "sections": sections},
    }
    ok = len(sections) <= 10 and sum(rows_per_section) <= 10 and (titled or len(sections) == 1)
    if ok:
        parse_send_request(body)
    else:
        assert error_of(body).code == ErrorCode.VALIDATION_FAILED


@pytest.mark.parametrize(
    ("row", "param"),
    [
        ({"id": "i" * 201, "title": "t"}, "interactive.sections[0].rows[0].id"),
        ({"id": "i", "title": "t" * 25}, "interactive.sections[0].rows[0].title"),
        (
            {"id": "i", "title": "t", "description": "d" * 73},
            "interactive.sections[0].rows[0].description",
        ),
    ],
)
def test_list_row_limits(row: dict[str, str], param: str) -> None:
    body = {
        "to": TO,
        "interactive": {"type": "list", "body": "b", "button": "Go", "sections": [{"rows": [row]}]},
    }
    assert error_of(body).param == param


def test_list_row_boundaries_pass() -> None:
    row = {"id": "i" * 200, "title": "t" * 24, "description": "d" * 72}
    body = {
        "to": TO,
        "interactive": {
            "type": "list",
            "body": "b",
            "button": "b" * 20,
            "sections": [{"title": "s" * 24, "rows": [row]}],
        },
    }
    parse_send_request(body)


def test_list_row_ids_unique_and_button_label() -> None:
    rows = [{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]
    err = error_of(
        {
            "to": TO,
            "interactive": {
                "type": "list",
                "body": "b",
                "button": "Go",
                "sections": [{"rows": rows}],
            },
        }
    )
    assert err.param == "interactive.sections[0].rows[1].id"
    err = error_of(
        {
            "to": TO,
            "interactive": {
                "type": "list",
                "body": "b",
                "button": "x" * 21,
                "sections": [{"rows": rows[:1]}],
            },
        }
    )
    assert err.param == "interactive.button"


@pytest.mark.parametrize(
    ("button", "ok"),
    [
        ({"type": "url", "title": "Site", "url": "https://example.com"}, True),
        ({"type": "call", "title": "Call", "phone": "+255712345678"}, True),
        ({"type": "copy", "title": "Code", "code": "ABC123"}, True),
        ({"type": "url", "title": "Site"}, False),
        ({"type": "call", "title": "Call"}, False),
        ({"type": "copy", "title": "Code"}, False),
        ({"type": "reply", "title": "Yes"}, False),
        ({"type": "telepathy", "title": "?"}, False),
    ],
)
def test_typed_buttons_need_their_field(button: dict[str, str], ok: bool) -> None:
    body = {"to": TO, "interactive": {"type": "buttons", "body": "b", "buttons": [button]}}
    if ok:
        parse_send_request(body)
    else:
        assert error_of(body).param.startswith("interactive.buttons[0]")  # type: ignore[union-attr]


@given(
    st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True)
)
@example(90.0, 180.0)
@example(-90.0, -180.0)
@example(90.000001, 0.0)
@example(0.0, -180.0001)
def test_location_ranges(lat: float, lon: float) -> None:
    body = {"to": TO, "location": {"latitude": lat, "longitude": lon}}
    if -90 <= lat <= 90 and -180 <= lon <= 180:
        parse_send_request(body)
    else:
        assert error_of(body).param in ("location.latitude", "location.longitude")


@pytest.mark.parametrize("emoji", ["", "👍", "❤️", "👍🏽", "🇹🇿", "👩‍💻", "1️⃣", "👨‍👩‍👧‍👦"])
def test_reaction_accepts_one_emoji_or_empty(emoji: str) -> None:
    assert (
        parse_send_request({"to": TO, "reaction": {"message_id": "m", "emoji": emoji}}).mode
        == "reaction"
    )


@pytest.mark.parametrize("emoji", ["👍👍", "a", "ok", "👍 ", "🇹", "‍👍", "1"])
def test_reaction_refuses_anything_else(emoji: str) -> None:
    assert (
        error_of({"to": TO, "reaction": {"message_id": "m", "emoji": emoji}}).param
        == "reaction.emoji"
    )


def test_reaction_needs_the_target() -> None:
    assert error_of({"to": TO, "reaction": {"emoji": "👍"}}).param == "reaction.message_id"
    assert (
        error_of({"to": TO, "reaction": {"message_id": "m"}, "reply_to": "x"}).param == "reply_to"
    )


@pytest.mark.parametrize(
    "media",
    [
        {"type": "image"},
        {"type": "image", "url": "https://x.example/a.png", "id": "123"},
        {"type": "image", "url": "ftp://x.example/a.png"},
        {"type": "image", "data": "not a data uri"},
        {"type": "image", "data": "data:image/png;base64,!!!"},
    ],
)
def test_media_source_is_exactly_one_valid_source(media: dict[str, str]) -> None:
    err = error_of({"to": TO, "media": media})
    assert err.code == ErrorCode.VALIDATION_FAILED
    assert err.param is not None
    assert err.param.startswith("media")


def test_a_template_without_a_sender_is_left_to_the_default_sender() -> None:
    message = parse_send_request({"to": TO, "template": {"name": "t", "language": "en"}})
    assert message.sender_id is None  # the service picks the workspace's default sender


def test_scheduling_options() -> None:
    msg = parse_send_request(
        {
            "to": TO,
            "text": "x",
            "scheduled_at": "2026-12-01T09:00:00Z",
            "expires_at": "2026-12-01T12:00:00+02:00",
        }
    )
    assert msg.scheduled_at is not None
    assert msg.expires_at is not None
    assert msg.expires_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    err = error_of(
        {
            "to": TO,
            "text": "x",
            "scheduled_at": "2026-12-01T09:00:00Z",
            "expires_at": "2026-12-01T08:00:00Z",
        }
    )
    assert err.param == "expires_at"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"to": TO, "text": 5}, "text"),
        ({"to": TO, "text": "x", "check_window": "no"}, "check_window"),
        ({"to": TO, "text": "x", "metadata": {"k": [1]}}, "metadata.k"),
        ({"to": TO, "text": "x", "webhook_url": "not a url"}, "webhook_url"),
        ({"to": TO, "text": "x", "surprise": 1}, "surprise"),
        ({"text": "x"}, "to"),
        ({"to": TO, "text": "x", "contact": {"labels": [""]}}, "contact.labels[0]"),
    ],
)
def test_option_errors_name_the_field(body: dict[str, Any], param: str) -> None:
    err = error_of(body)
    assert err.code == ErrorCode.VALIDATION_FAILED
    assert err.param == param


@given(
    st.dictionaries(
        st.sampled_from([*ALL_MODES, "to", "sender_id", "caption", "x"]), json_values, max_size=5
    )
    | json_values
)
@example({"to": TO, "interactive": {"type": "list", "sections": "nope"}})
@example(
    {
        "to": TO,
        "template": {"name": "x", "language": "en", "params": {"a": {"type": "currency"}}},
        "sender_id": "s",
    }
)
def test_arbitrary_json_gives_a_message_or_a_waport_error(body: Any) -> None:
    try:
        parse_send_request(body)
    except WaportError as err:
        assert err.code.http_status in (400, 422)
        assert err.param is None or isinstance(err.param, str)


@given(ids().map(lambda s: f"SECRET{s}"))
def test_param_never_holds_user_data(secret: str) -> None:
    body = {"to": TO, "text": {"body": "x", secret: 1}}
    err = error_of(body)
    # an unknown key is part of the request's structure, not its data: it is named
    assert err.param == f"text.{secret}"
    err = error_of({"to": TO, "text": "x" * 5000 + secret})
    assert secret not in (err.param or "")
    assert secret not in err.message
