"""Prepaid billing as a ledger: every change to a workspace's balance is an entry, written
in the same transaction as what caused it, so the balance always equals the credits
minus the debits plus the refunds, whatever fails or crashes in between.

- **debit**: a message is accepted (its category's price), with its rows: a send or a
  broadcast the balance cannot cover is refused whole (``INSUFFICIENT_BALANCE``, 402)
  and nothing is stored.
- **refund**: that message fails for good (``failed`` with a known cause, or
  ``expired``), with the status change; once per message (its id is derived from the
  message's). A provisional failure (``OUTCOME_UNKNOWN``: it may yet have gone) is not
  refunded.
- **credit** (or a negative one, a debit without a message): the operator's, with a
  reason.

A workspace whose ``balance`` is ``None`` is unlimited: nothing is debited and no entry
is written.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.listing import pack, unpack
from waport.domain.records import Direction, MessageRecord
from waport.domain.status import OUTCOME_UNKNOWN, MessageStatus, StatusChange
from waport.domain.validators import json_int

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
CATEGORIES: Final = ("MARKETING", "UTILITY", "AUTHENTICATION", "SERVICE")
"""What a price is set for (``SERVICE``: free-form messages in a window)."""
REASON_MAX: Final = 200
CREDIT_MAX: Final = 10**12
"""The largest credit (or debit) one request may make, in the smallest unit."""


class EntryKind(enum.StrEnum):
    DEBIT = "debit"
    REFUND = "refund"
    CREDIT = "credit"


@attrs.frozen(kw_only=True)
class LedgerEntry:
    id: str
    workspace_id: str
    kind: EntryKind
    amount: int
    """What it adds to the balance (a debit's is negative)."""
    at: datetime
    message_id: str | None = None
    category: str | None = None
    reason: str = ""


def debit_id(message_id: str) -> str:
    return f"led_{message_id}_debit"


def refund_id(message_id: str) -> str:
    return f"led_{message_id}_refund"


def debit(record: MessageRecord, prices: Mapping[str, int], at: datetime) -> LedgerEntry | None:
    """What accepting ``record`` costs, or ``None`` when its category is free."""
    price = prices.get(record.category or "SERVICE", 0)
    if price <= 0:
        return None
    return LedgerEntry(
        id=debit_id(record.id),
        workspace_id=record.workspace_id,
        kind=EntryKind.DEBIT,
        amount=-price,
        at=at,
        message_id=record.id,
        category=record.category,
        reason="message accepted",
    )


REFUNDABLE: Final = frozenset({MessageStatus.FAILED, MessageStatus.EXPIRED})
"""The statuses that may owe a refund (``refund_owed`` decides): a cheap first test."""


def refund_owed(record: MessageRecord, change: StatusChange) -> bool:
    """Whether ``change`` of ``record`` returns what accepting it cost: an outbound
    message that failed for good or expired."""
    if record.direction != Direction.OUTBOUND:
        return False
    if change.status == MessageStatus.EXPIRED:
        return True
    return change.status == MessageStatus.FAILED and (
        change.error is None or change.error.code != OUTCOME_UNKNOWN
    )


def refund(debited: LedgerEntry, at: datetime, reason: str) -> LedgerEntry:
    """The refund of a debit (``refund_owed``)."""
    assert debited.message_id is not None  # noqa: S101 - only message debits are refunded
    return attrs.evolve(
        debited,
        id=refund_id(debited.message_id),
        kind=EntryKind.REFUND,
        amount=-debited.amount,
        at=at,
        reason=reason,
    )


def credit(
    entry_id: str, workspace_id: str, amount: object, reason: object, at: datetime
) -> LedgerEntry:
    """The operator's credit (``amount`` > 0) or debit (< 0), checked. A whole number
    written as a float (``5.0``) is that integer, as JSON Schema counts it."""
    whole = json_int(amount)
    if whole is None or whole == 0 or abs(whole) > CREDIT_MAX:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            f"amount is a non-zero integer of at most {CREDIT_MAX} in absolute value",
            "amount",
        )
    if not isinstance(reason, str) or not reason.strip() or len(reason) > REASON_MAX:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, f"reason is 1-{REASON_MAX} characters", "reason"
        )
    return LedgerEntry(
        id=entry_id,
        workspace_id=workspace_id,
        kind=EntryKind.CREDIT,
        amount=whole,
        at=at,
        reason=reason,
    )


def apply(balance: int | None, amount: int) -> int | None:
    """The balance after an entry, or ``None`` when it would go below zero (a refund or
    credit never does). Raises for an unlimited workspace (nothing to apply to)."""
    if balance is None:
        raise WaportError(ErrorCode.NOT_PREPAID, "the workspace is not prepaid", "billing")
    after = balance + amount
    return after if after >= 0 or amount >= 0 else None


def insufficient(total: int) -> WaportError:
    return WaportError(
        ErrorCode.INSUFFICIENT_BALANCE, f"the balance cannot cover {-total} for this request"
    )


def entry_cursor(entry: LedgerEntry) -> str:
    """The cursor of a ledger page ending with ``entry`` (newest first)."""
    return pack((entry.at - _EPOCH) // _MICROSECOND, entry.id)


def read_cursor(text: str) -> tuple[datetime, str]:
    micros, entry_id = unpack(text, 2)
    try:
        return _EPOCH + int(micros) * _MICROSECOND, entry_id
    except (ValueError, OverflowError):
        raise WaportError(
            ErrorCode.INVALID_CURSOR, "not a cursor this API gave", "cursor"
        ) from None
