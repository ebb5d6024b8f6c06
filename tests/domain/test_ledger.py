"""Prepaid billing's rules (``waport.domain.ledger``): what a message costs, which status
changes refund it, the operator's credits, and the ledger's cursor."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from waport.domain import ledger
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.ledger import EntryKind
from waport.domain.status import OUTCOME_UNKNOWN, ErrorDetail, MessageStatus, StatusChange
from waport.testing import builders, strategies

T0 = datetime(2026, 12, 1, tzinfo=UTC)
PRICES = {"MARKETING": 30, "UTILITY": 10}


def test_a_message_costs_its_categorys_price() -> None:
    record = builders.outbound("m1", at=T0, category="MARKETING")
    entry = ledger.debit(record, PRICES, T0)
    assert entry is not None
    assert (entry.id, entry.kind, entry.amount, entry.message_id) == (
        "led_m1_debit",
        EntryKind.DEBIT,
        -30,
        "m1",
    )
    assert ledger.debit(attrs.evolve(record, category="SERVICE"), PRICES, T0) is None
    back = ledger.refund(entry, T0, "failed")
    assert (back.id, back.kind, back.amount) == ("led_m1_refund", EntryKind.REFUND, 30)


@given(strategies.statuses(), st.sampled_from([None, "PROVIDER_REJECTED", OUTCOME_UNKNOWN]))
def test_only_a_failure_for_good_or_an_expiry_is_refunded(
    status: MessageStatus, code: str | None
) -> None:
    error = None if code is None else ErrorDetail(code=code, message="x")
    change = StatusChange(status=status, at=T0, error=error)
    outbound = builders.outbound("m1", at=T0)
    expected = status == MessageStatus.EXPIRED or (
        status == MessageStatus.FAILED and code != OUTCOME_UNKNOWN
    )
    assert ledger.refund_owed(outbound, change) == expected
    inbound = builders.inbound("i1", at=T0, provider_message_id="w")
    assert not ledger.refund_owed(inbound, change)


@given(st.datetimes(timezones=st.just(UTC)), st.text(min_size=1, max_size=40))
def test_the_ledger_cursor_reads_back(at: datetime, entry_id: str) -> None:
    entry = ledger.credit("x", "w", 1, "r", at)
    entry = attrs.evolve(entry, id=entry_id)
    assert ledger.read_cursor(ledger.entry_cursor(entry)) == (at, entry_id)


@pytest.mark.parametrize(
    ("amount", "reason", "param"),
    [
        (0, "r", "amount"),
        (True, "r", "amount"),
        (1.5, "r", "amount"),
        (10**13, "r", "amount"),
        (5, " ", "reason"),
        (5, "r" * 201, "reason"),
    ],
)
def test_a_bad_credit_names_the_field(amount: object, reason: object, param: str) -> None:
    with pytest.raises(WaportError) as info:
        ledger.credit("x", "w", amount, reason, T0)
    assert (info.value.code, info.value.param) == (ErrorCode.VALIDATION_FAILED, param)


def test_a_balance_never_goes_below_zero_for_a_debit() -> None:
    assert ledger.apply(10, -10) == 0
    assert ledger.apply(10, -11) is None
    assert ledger.apply(0, 5) == 5
    with pytest.raises(WaportError):
        ledger.apply(None, 5)
