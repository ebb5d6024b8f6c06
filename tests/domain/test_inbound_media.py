"""The provider's digest of a contact's media, in the forms providers write it."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from waport.domain import lifecycle
from waport.domain.errors import ErrorCode
from waport.domain.events import InboundMessage
from waport.domain.inbound_media import (
    FINAL_FAILURES,
    digest_matches,
    message_id_of,
    provider_media,
    stored_media_id,
    worth_another_start,
)
from waport.domain.lifecycle import MediaFetched
from waport.domain.recipients import parse_recipient
from waport.domain.status import ErrorDetail
from waport.testing import builders


@given(st.binary(max_size=300), st.binary(max_size=300))
def test_a_digest_names_its_bytes_in_hex_and_base64_and_no_others(
    data: bytes, other: bytes
) -> None:
    digest = hashlib.sha256(data).digest()
    actual = digest.hex()
    for written in (
        digest.hex(),
        digest.hex().upper(),
        base64.b64encode(digest).decode(),
        base64.urlsafe_b64encode(digest).decode().rstrip("="),
    ):
        assert digest_matches(written, actual)
        if hashlib.sha256(other).digest() != digest:
            assert not digest_matches(written, hashlib.sha256(other).hexdigest())
    assert digest_matches(None, actual)  # no digest given: nothing to check


@given(st.text(alphabet="0123456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=1, max_size=26))
def test_an_inbound_message_keeps_its_media_under_its_own_id(suffix: str) -> None:
    message_id = f"msg_{suffix}"
    assert stored_media_id(message_id) == f"med_{suffix}"
    assert message_id_of(stored_media_id(message_id)) == message_id
    assert message_id_of("wamid.X") is None


def test_only_media_kinds_with_an_id_have_provider_media() -> None:
    def inbound(kind: str, payload: dict[str, object]) -> InboundMessage:
        return InboundMessage(
            provider="meta",
            provider_message_id="wamid.1",
            sender_id="s",
            contact=parse_recipient("255712345678"),
            received_at=datetime(2026, 1, 1, tzinfo=UTC),
            kind=kind,
            text="a caption",
            payload=payload,
        )

    found = provider_media(inbound("image", {"id": "M1", "mime_type": "image/jpeg"}))
    assert found is not None
    assert (found.provider_id, found.mime_type, found.caption) == ("M1", "image/jpeg", "a caption")
    assert provider_media(inbound("text", {"id": "M1"})) is None
    assert provider_media(inbound("image", {})) is None


@given(st.sampled_from(list(ErrorCode)), st.booleans())
def test_a_media_failure_is_kept_on_an_inbound_message_only(code: ErrorCode, mend: bool) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    record = builders.inbound("msg_1", at=at, provider_message_id="wamid.1")
    error = ErrorDetail(code=code, message="why")
    failed, changes = lifecycle.finish(record, MediaFetched(error=error))
    assert (failed.error, changes) == (error, [])
    assert (failed.status, failed.history) == (record.status, record.history)
    if mend:  # asked for again later, and fetched
        assert lifecycle.finish(failed, MediaFetched())[0].error is None
    # a start tries again unless another try cannot mend it
    assert worth_another_start(error) is (code not in FINAL_FAILURES)
    assert worth_another_start(None)
    outbound = builders.outbound("msg_2", at=at)
    assert lifecycle.finish(outbound, MediaFetched(error=error)) == (outbound, [])
