"""Erasing a contact (``waport.domain.erasure``, ``lifecycle.erase``): whatever a message
held, nothing of the number or the content is left; statuses and accounting stay."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import attrs
from hypothesis import given
from hypothesis import strategies as st

from waport import codec
from waport.domain import lifecycle
from waport.domain.erasure import Erasure, pseudonym
from waport.domain.errors import ErrorCode
from waport.domain.recipients import Recipient, stored_recipient
from waport.domain.records import (
    Direction,
    MessageRecord,
    OutboxState,
    StoredResponse,
    inbound_event,
)
from waport.domain.status import ErrorDetail, MessageStatus, StatusChange
from waport.testing import builders, strategies

T0 = datetime(2026, 12, 1, tzinfo=UTC)


@st.composite
def records(draw: st.DrawFn) -> tuple[MessageRecord, Recipient]:
    """An outbound or inbound message with a number that also appears in its texts,
    metadata and errors."""
    number = Recipient("phone", draw(strategies.phone_digits()))
    status = draw(strategies.statuses())
    said = f"call me on +{number.value} {draw(strategies.words(0, 20))}"
    error = ErrorDetail(
        code=ErrorCode.PROVIDER_REJECTED, message=f"{number.value} refused", provider_message=said
    )
    if draw(st.booleans()):
        message = draw(strategies.outbound_messages())
        base = builders.outbound("m1", at=T0, to=number.value, status=status)
        record = attrs.evolve(
            base,
            message=attrs.evolve(message, to=number, metadata={"note": said}),
            metadata={"note": said},
            error=error,
            history=(*base.history, StatusChange(status=status, at=T0, error=error)),
        )
    else:
        base = builders.inbound("m1", at=T0, provider_message_id="w1", contact=number.value)
        assert base.inbound is not None
        record = attrs.evolve(base, inbound=attrs.evolve(base.inbound, text=said))
    return record, number


@given(records(), st.binary(min_size=1, max_size=16))
def test_nothing_of_the_number_or_the_content_is_left(
    drawn: tuple[MessageRecord, Recipient], salt: bytes
) -> None:
    record, number = drawn
    alias = pseudonym(number, salt)
    erased = lifecycle.erase(record, Erasure(recipient=number, alias=alias, at=T0))
    stored = codec.dumps(attrs.evolve(erased, id="x", sender_id="x"))
    assert number.value not in stored.replace(alias.value, "")
    assert "call me" not in stored
    assert erased.contact == alias
    assert erased.message is None
    assert erased.inbound is None
    assert erased.erased_at == T0
    # statuses stay, one step more for what was never sent
    kept = erased.history[: len(record.history)]
    assert [(c.status, c.at) for c in kept] == [(c.status, c.at) for c in record.history]
    unsent = record.direction == Direction.OUTBOUND and record.status in (
        MessageStatus.SCHEDULED,
        MessageStatus.PENDING,
    )
    if unsent:
        assert erased.status == MessageStatus.FAILED
        assert erased.error is not None
        assert erased.error.code == ErrorCode.CONTACT_ERASED
    else:
        assert erased.status == record.status
    assert erased.category == record.category
    assert codec.loads(codec.dumps(erased), MessageRecord) == erased
    assert lifecycle.erase(erased, Erasure(recipient=number, alias=alias, at=T0)) == erased


@given(strategies.phone_digits(), st.binary(min_size=16, max_size=16))
def test_a_pseudonym_is_stored_and_read_back_and_never_parsed_from_a_request(
    digits: str, salt: bytes
) -> None:
    alias = pseudonym(Recipient("phone", digits), salt)
    assert alias.value.startswith("erased:")
    assert len(alias.value) == len("erased:") + 32
    assert stored_recipient(alias.value) == alias


def test_another_salt_another_pseudonym() -> None:
    number = Recipient("phone", "255712345678")
    assert pseudonym(number, b"a") != pseudonym(number, b"b")
    assert pseudonym(number, b"a") == pseudonym(number, b"a")


def test_an_owed_event_dies_and_a_delivered_one_is_scrubbed() -> None:
    number = Recipient("phone", "255712345678")
    erasure = Erasure(recipient=number, alias=pseudonym(number, b"s"), at=T0)
    record = builders.inbound("m1", at=T0, provider_message_id="w1", contact=number.value)
    event = inbound_event(record)
    assert event is not None
    owed = erasure.event(event)
    assert owed.state == OutboxState.DEAD
    assert number.value not in json.dumps(owed.payload)
    assert owed.payload["data"] == {
        "message_id": "m1",
        "sender_id": "s1",
        "provider_message_id": "w1",
        "erased": True,
    }
    delivered = erasure.event(attrs.evolve(event, state=OutboxState.DELIVERED))
    assert delivered.state == OutboxState.DELIVERED
    assert delivered.payload == owed.payload


def test_a_stored_answer_keeps_its_status_and_loses_the_contact() -> None:
    number = Recipient("phone", "255712345678")
    erasure = Erasure(recipient=number, alias=pseudonym(number, b"s"), at=T0)
    body = {
        "status": "accepted",
        "data": {
            "broadcast_id": "b1",
            "rows": [
                {"message_id": "m1", "to": number.value, "status": "pending"},
                {"message_id": "m2", "to": "255700000001", "status": "pending"},
            ],
            "note": f"sent to +{number.value}",
        },
    }
    answer = StoredResponse(status=207, body=json.dumps(body).encode())
    scrubbed = erasure.response(answer, {"m1"})
    assert scrubbed.status == 207
    data = json.loads(scrubbed.body)["data"]
    assert data["rows"][0] == {"message_id": "m1", "status": "pending", "erased": True}
    assert data["rows"][1]["to"] == "255700000001"  # another contact's row is left
    assert number.value not in scrubbed.body.decode()
