"""Message status: an ordered table and a forward-only merge.

Statuses only move forward: ``merge_status`` returns whichever of the current and
the incoming status is further along, so a late or repeated webhook never moves a
message back, and any arrival order of the same updates ends in the same status
(the merge is a join on a total order: idempotent, commutative, associative).
``failed`` and ``expired`` are terminal: no non-terminal status moves them; if both
are reported, ``failed`` (the provider's word) outranks ``expired`` (ours).

One failure is provisional: ``failed`` with ``OUTCOME_UNKNOWN`` says only that waport
could not learn whether a crashed attempt went out. It ranks just below ``sent``
(``change_rank``), so the provider's later word (``sent``, ``delivered``, ``read`` or
a real failure) replaces it. Ranks stay a total order, so the merge keeps its laws.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Final

import attrs

from waport.domain.errors import ErrorCode


class MessageStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    EXPIRED = "expired"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        return RANK[self]

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def final(self) -> bool:
        """True once the message needs nothing more from waport (sent or beyond, or terminal)."""
        return RANK[self] >= RANK[MessageStatus.SENT]


_S = MessageStatus
RANK: Final[Mapping[MessageStatus, int]] = {
    _S.SCHEDULED: 0,
    _S.PENDING: 1,
    _S.SENT: 2,
    _S.DELIVERED: 3,
    _S.READ: 4,
    _S.PLAYED: 5,
    _S.EXPIRED: 6,
    _S.FAILED: 7,
}
TERMINAL: Final = frozenset({_S.FAILED, _S.EXPIRED})

# Statuses a message may hold while waport still owes it an attempt.
UNSENT: Final = frozenset({_S.SCHEDULED, _S.PENDING})


def merge_status(current: MessageStatus, incoming: MessageStatus) -> MessageStatus:
    """The status after ``incoming`` is reported for a message at ``current``."""
    return incoming if RANK[incoming] > RANK[current] else current


@attrs.frozen(kw_only=True)
class ErrorDetail:
    """A failure as stored with a message: our code plus the provider's raw values."""

    code: ErrorCode = attrs.field(converter=ErrorCode)
    message: str
    provider: str | None = None
    provider_code: str | None = None
    provider_message: str | None = None


@attrs.frozen(kw_only=True)
class StatusChange:
    """One step of a message's status history."""

    status: MessageStatus
    at: datetime
    error: ErrorDetail | None = None


OUTCOME_UNKNOWN: Final = "OUTCOME_UNKNOWN"


def change_rank(change: StatusChange) -> float:
    """A change's place in the order: its status's rank, except that a failure with an
    unknown outcome sits between ``pending`` and ``sent``."""
    if (
        change.status is MessageStatus.FAILED
        and change.error
        and change.error.code == OUTCOME_UNKNOWN
    ):
        return RANK[MessageStatus.PENDING] + 0.5
    return RANK[change.status]


def advance(
    history: tuple[StatusChange, ...], change: StatusChange
) -> tuple[MessageStatus, tuple[StatusChange, ...]] | None:
    """Apply ``change`` to a history; ``None`` when it does not move the status forward."""
    if history and change_rank(change) <= change_rank(history[-1]):
        return None
    return change.status, (*history, change)
