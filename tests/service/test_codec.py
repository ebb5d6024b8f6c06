"""The storage codec's JSON output: fast (orjson) without refusing or rounding anything."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from waport import codec
from waport.domain.errors import ErrorCode
from waport.domain.events import InboundMessage
from waport.domain.limits import MediaKind
from waport.domain.messages import Media, MediaStored, OutboundMessage
from waport.domain.recipients import parse_recipient
from waport.domain.records import Direction, MessageRecord
from waport.domain.render import to_request_dict
from waport.domain.status import ErrorDetail, MessageStatus, StatusChange
from waport.testing import strategies

# JSON values as a request's metadata may carry them, integers of any size included
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63, max_value=2**200)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values, st.booleans())
def test_json_bytes_is_the_value_and_compact(value: Any, sort_keys: bool) -> None:
    out = codec.json_bytes(value, sort_keys=sort_keys)
    assert json.loads(out) == value
    assert b"\n" not in out
    if sort_keys:

        def sorted_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            keys = [k for k, _ in pairs]
            assert keys == sorted(keys)
            return dict(pairs)

        json.loads(out, object_pairs_hook=sorted_pairs)


def test_integers_beyond_64_bits_keep_every_digit() -> None:
    big = {"order": 2**70 + 1, "nested": [{"id": -(2**90)}]}
    assert json.loads(codec.json_bytes(big)) == big
    assert codec.json_bytes({"b": 1, "a": 2}, sort_keys=True) == b'{"a":2,"b":1}'


def _records() -> st.SearchStrategy[MessageRecord]:
    optional_text = st.none() | strategies.ids()
    errors = st.none() | st.builds(
        ErrorDetail,
        code=st.sampled_from(list(ErrorCode)),
        message=strategies.words(),
        provider=optional_text,
    )
    changes = st.builds(
        StatusChange, status=strategies.statuses(), at=strategies.aware_datetimes(), error=errors
    )
    inbound = st.builds(
        InboundMessage,
        provider=strategies.ids(),
        provider_message_id=strategies.ids(),
        sender_id=strategies.ids(),
        contact=st.none() | strategies.recipients(),
        received_at=strategies.aware_datetimes(),
        kind=st.sampled_from(["text", "image", "reaction"]),
        text=optional_text,
        payload=st.dictionaries(strategies.ids(10), st.integers() | st.text(), max_size=2),
    )
    return st.builds(
        MessageRecord,
        id=strategies.ids(),
        workspace_id=strategies.ids(),
        sender_id=strategies.ids(),
        contact=strategies.recipients(),
        direction=st.sampled_from(list(Direction)),
        status=strategies.statuses(),
        history=st.lists(changes, max_size=3).map(tuple),
        created_at=strategies.aware_datetimes(),
        message=st.none() | strategies.outbound_messages(),
        inbound=st.none() | inbound,
        provider=optional_text,
        provider_message_id=optional_text,
        category=st.none() | st.sampled_from(["SERVICE", "MARKETING"]),
        initiated=st.booleans(),
        due_at=st.none() | strategies.aware_datetimes(),
        attempting_since=st.none() | strategies.aware_datetimes(),
        attempts=st.integers(0, 9),
        error=errors,
        metadata=st.dictionaries(strategies.ids(10), st.none() | st.integers() | st.text()),
        reply_to=optional_text,
    )


@given(_records())
def test_a_stored_record_reads_back_the_same_from_either_layout(record: MessageRecord) -> None:
    """A document leaves out fields at their defaults; one written with every field (the
    layout before) reads back as the same record."""
    doc = codec.dumps(record)
    full = codec.json_bytes(codec.make_storage_converter(omit_defaults=False).unstructure(record))
    # UTC datetimes are handed to orjson as they are; the text is what isoformat() gives
    assert doc == codec.json_bytes(codec.unstructure(record)).decode()
    assert codec.loads(doc, MessageRecord) == record
    assert codec.loads(full, MessageRecord) == record
    assert len(doc) <= len(full)
    assert None not in json.loads(doc).values()  # every optional field defaults to None


@given(_records())
def test_a_message_body_is_its_document_without_the_hot_fields(record: MessageRecord) -> None:
    """The SQL stores write the body once and the hot fields as columns: the body is
    the record's document with exactly those fields left out."""
    body = json.loads(codec.dumps_message_body(record))
    whole = json.loads(codec.dumps(record))
    assert body == {k: v for k, v in whole.items() if k not in codec.MESSAGE_HOT}
    assert not set(body) & set(codec.MESSAGE_HOT)


# UTC, and offsets down to the microsecond (historic ones like +00:25:21 have seconds)
_offsets = st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
any_aware = st.datetimes(
    min_value=datetime(1900, 1, 1),  # noqa: DTZ001 - bounds are naive; timezones= makes values aware
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC) | _offsets.map(timezone),
)


@given(any_aware, st.integers(min_value=2**64, max_value=2**70))
def test_datetimes_are_written_as_isoformat_gives_them_on_either_path(
    when: datetime, big: int
) -> None:
    """orjson writes UTC datetimes itself (other offsets are written as isoformat() first,
    since orjson drops an offset's seconds), and the standard library's path, taken for
    integers beyond 64 bits, writes them the same."""
    change = StatusChange(status=MessageStatus.SENT, at=when)
    assert json.loads(codec.dumps(change))["at"] == when.isoformat()
    assert json.loads(codec.json_bytes({"at": when.astimezone(UTC), "n": big})) == {
        "at": when.astimezone(UTC).isoformat(),
        "n": big,
    }


@given(strategies.outbound_messages())
def test_a_message_is_stored_in_its_own_shape_and_the_request_shape_still_reads(
    message: OutboundMessage,
) -> None:
    """Version 2 is the domain's shape (tagged unions), not the REST body; a document
    written before (version 1, the request's shape) reads back the same."""
    stored = codec.unstructure(message)
    assert stored["_v"] == 2
    assert "content" in stored  # the REST body keys the content by its mode instead
    assert codec.structure(stored, OutboundMessage) == message
    assert codec.structure(to_request_dict(message), OutboundMessage) == message


def test_stored_media_is_a_reference_in_the_document() -> None:
    media = Media(
        kind=MediaKind.IMAGE,
        source=MediaStored(media_id="med_1", sha256="ab" * 32, size=1_000_000, mime="image/png"),
        caption="the receipt",
    )
    message = OutboundMessage(to=parse_recipient("255712345678"), content=media)
    doc = codec.dumps(message)
    assert len(doc) < 400
    assert codec.loads(doc, OutboundMessage) == message
