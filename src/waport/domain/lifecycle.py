"""The message lifecycle: every decision about a stored message, in one room.

Each function takes a record (or nothing) and an event and returns what a store must
write; stores load and persist, and decide nothing (h11's "everything that affects the
state machine lives here"). The events:

    claim       an unsent, unclaimed outbound message is marked as being attempted
    finish      an attempt's outcome: sent / retry / failed / release (and early statuses);
                for an inbound message, whether its media could be fetched
    patch       a provider's status for a message: write it, stash it, or ignore it
    expire      a claimed message whose deadline passed fails as ``expired``
    recover     a claim older than the lease belongs to a dead process: release or fail it
    retry       a failed attempt is retried with backoff, or fails for good
    purge       retention: which messages may go
    erase       its contact is erased: content and number go, statuses stay
    idempotency whether an Idempotency-Key may be taken, replayed, or is in use

Statuses only move forward (``status.advance``); a ``Property``-style test replays any
sequence of these events against a small reference model.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from waport.domain import consent
from waport.domain.consent import ConsentChange
from waport.domain.erasure import Erasure
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.recipients import Recipient
from waport.domain.records import (
    Contact,
    Direction,
    IdempotencyRecord,
    MessageRecord,
    OutboxEvent,
    status_event,
)
from waport.domain.schedule import Backoff, is_expired, retry_at
from waport.domain.status import (
    UNSENT,
    ErrorDetail,
    MessageStatus,
    StatusChange,
    advance,
    change_rank,
)

# ----------------------------------------------------------------------------- outcomes


@attrs.frozen(kw_only=True)
class Sent:
    provider: str
    provider_message_id: str
    at: datetime


@attrs.frozen(kw_only=True)
class Retry:
    at: datetime
    due_at: datetime
    error: ErrorDetail


@attrs.frozen(kw_only=True)
class Failed:
    at: datetime
    error: ErrorDetail
    status: MessageStatus = MessageStatus.FAILED
    claimed_at: datetime | None = None
    """Set by crash recovery: apply only if the message is still claimed since this
    moment, so a stale claim's recovery never touches a newer claim of another process."""


@attrs.frozen(kw_only=True)
class Release:
    """Give a claimed message back without attempting it (paced, or recovered after a crash)."""

    due_at: datetime
    count_attempt: bool = False
    claimed_at: datetime | None = None
    """As for ``Failed``: recovery applies only to the claim it found."""


@attrs.frozen(kw_only=True)
class MediaFetched:
    """An inbound message's media: stored (``error`` None) or given up on (the error is
    kept on the message, so a restart still reports it failed)."""

    error: ErrorDetail | None = None


AttemptOutcome = Sent | Retry | Failed | Release | MediaFetched


def detail_of(err: WaportError) -> ErrorDetail:
    """A raised error as it is kept with a message."""
    return ErrorDetail(
        code=err.code,
        message=err.message,
        provider=err.provider,
        provider_code=err.provider_code,
        provider_message=err.provider_message,
    )


# ----------------------------------------------------------------------------- status changes


def apply_change(record: MessageRecord, change: StatusChange, **also: Any) -> MessageRecord | None:
    """The record after ``change`` (and the fields in ``also``, in the same rebuild);
    ``None`` when the change does not move it forward."""
    result = advance(record.history, change)
    if result is None:
        return None
    status, history = result
    fields = {"status": status, "history": history, "error": change.error or record.error}
    if change_rank(change) >= MessageStatus.SENT.rank and record.attempting_since is not None:
        # the provider has spoken about a message whose attempt never recorded its
        # outcome (a provisional OUTCOME_UNKNOWN failure is not such a word)
        fields["attempting_since"] = None
    return attrs.evolve(record, **(fields | also))


@attrs.frozen(kw_only=True)
class StatusPatch:
    """A status to apply to one outbound message, found by our id or by the provider's."""

    change: StatusChange
    message_id: str | None = None
    provider: str | None = None
    provider_message_id: str | None = None

    @property
    def provider_key(self) -> tuple[str, str] | None:
        if self.provider and self.provider_message_id:
            return self.provider, self.provider_message_id
        return None


@attrs.frozen(kw_only=True)
class StatusResult:
    record: MessageRecord | None
    """The message after the change; ``None`` when no message matched."""
    changed: bool
    stashed: bool = False
    """No message has this provider id yet: the status is kept and applied when one does."""


class PatchAction(enum.Enum):
    WRITE = "write"
    """Persist ``record`` (and ``changes``: history, events, template windows)."""
    STASH = "stash"
    """No message has this provider id yet: keep the change under the provider key."""
    IGNORE = "ignore"
    """Nothing to write (no message and no provider key, or the change is not forward)."""


@attrs.frozen(kw_only=True)
class PatchDecision:
    action: PatchAction
    record: MessageRecord | None = None
    changes: tuple[StatusChange, ...] = ()

    @property
    def result(self) -> StatusResult:
        return StatusResult(
            record=self.record,
            changed=bool(self.changes),
            stashed=self.action is PatchAction.STASH,
        )


def decide_patch(record: MessageRecord | None, patch: StatusPatch) -> PatchDecision:
    """What applying ``patch`` to ``record`` (the message it names, if found) writes.

    A message that does not know its provider id yet (the status outran the send's
    answer, or the provider reports by our id) learns it here, so later statuses find it.
    """
    if record is None:
        action = PatchAction.STASH if patch.provider_key else PatchAction.IGNORE
        return PatchDecision(action=action)
    attach: dict[str, Any] = {}
    if record.provider_message_id is None and patch.provider_key:
        attach = {"provider": patch.provider, "provider_message_id": patch.provider_message_id}
    updated = apply_change(record, patch.change, **attach)
    if updated is not None:
        return PatchDecision(action=PatchAction.WRITE, record=updated, changes=(patch.change,))
    if attach:
        return PatchDecision(action=PatchAction.WRITE, record=attrs.evolve(record, **attach))
    return PatchDecision(action=PatchAction.IGNORE, record=record)


# ----------------------------------------------------------------------------- attempts


def claim(record: MessageRecord, now: datetime) -> MessageRecord | None:
    """Mark an unsent, unclaimed outbound message as being attempted at ``now``."""
    if (
        record.direction != Direction.OUTBOUND
        or record.status not in UNSENT
        or record.attempting_since is not None
    ):
        return None
    history = record.history
    status = record.status
    if status == MessageStatus.SCHEDULED:
        status = MessageStatus.PENDING
        history = (*history, StatusChange(status=status, at=now))
    return attrs.evolve(
        record, status=status, history=history, attempting_since=now, attempts=record.attempts + 1
    )


def finish(
    record: MessageRecord, outcome: AttemptOutcome, stashed: Iterable[StatusChange] = ()
) -> tuple[MessageRecord, list[StatusChange]]:
    """Apply an attempt's outcome (and, after a send, any statuses that arrived early).

    Returns the final record and the changes that moved it forward, in order: the
    store enqueues ``events_for`` them and notes template windows. A recovery outcome
    (``claimed_at`` set) for a claim that is no longer the current one changes nothing.
    """
    if isinstance(outcome, MediaFetched):
        if record.direction != Direction.INBOUND or record.error == outcome.error:
            return record, []
        return attrs.evolve(record, error=outcome.error), []
    guard = outcome.claimed_at if isinstance(outcome, Failed | Release) else None
    if guard is not None and record.attempting_since != guard:
        return record, []
    changes: list[StatusChange] = []
    if isinstance(outcome, Sent):
        record = _outcome_step(
            record,
            StatusChange(status=MessageStatus.SENT, at=outcome.at),
            changes,
            attempting_since=None,
            provider=outcome.provider,
            provider_message_id=outcome.provider_message_id,
            due_at=None,
        )
        for change in sorted(stashed, key=lambda c: c.status.rank):
            updated = apply_change(record, change)
            if updated is not None:
                record = updated
                changes.append(change)
    elif isinstance(outcome, Retry):
        record = attrs.evolve(
            record, attempting_since=None, due_at=outcome.due_at, error=outcome.error
        )
    elif isinstance(outcome, Failed):
        record = _outcome_step(
            record,
            StatusChange(status=outcome.status, at=outcome.at, error=outcome.error),
            changes,
            attempting_since=None,
            due_at=None,
            error=outcome.error,
        )
    else:
        attempts = record.attempts if outcome.count_attempt else max(0, record.attempts - 1)
        record = attrs.evolve(
            record, attempting_since=None, due_at=outcome.due_at, attempts=attempts
        )
    return record, changes


def _outcome_step(
    record: MessageRecord, change: StatusChange, changes: list[StatusChange], **fields: Any
) -> MessageRecord:
    """``record`` with an outcome's ``fields`` and its status ``change`` (noted in
    ``changes`` if it moved the status: a webhook may have got further first)."""
    updated = apply_change(record, change, **fields)
    if updated is None:
        return attrs.evolve(record, **fields)
    changes.append(change)
    return updated


def expiry(record: MessageRecord, now: datetime) -> Failed | None:
    """The outcome of a claimed message whose ``expires_at`` has come: ``expired``."""
    if not is_expired(record.expires_at, now):
        return None
    error = ErrorDetail(code=ErrorCode.EXPIRED, message="not sent before expires_at")
    return Failed(at=now, error=error, status=MessageStatus.EXPIRED)


def after_failure(
    record: MessageRecord,
    err: WaportError,
    now: datetime,
    *,
    backoff: Backoff,
    rand: float,
) -> Retry | Failed:
    """Retry a retryable failure with backoff (a server's Retry-After wins if longer),
    unless the attempts are spent or the retry would come after ``expires_at``."""
    if err.retryable:
        when = retry_at(now, record.attempts, rand, backoff, retry_after=err.retry_after)
        if when is not None and not is_expired(record.expires_at, when):
            return Retry(at=now, due_at=when, error=detail_of(err))
    return Failed(at=now, error=detail_of(err))


@attrs.frozen(kw_only=True)
class Recovery:
    """How long a claim may live, and how long to wait for a provider's word."""

    lease: timedelta
    outcome_window: timedelta
    dedupes: bool
    """The provider de-duplicates by our message id: re-sending after a crash is safe."""
    provider: str


def recover(record: MessageRecord, now: datetime, policy: Recovery) -> Release | Failed | None:
    """A stale claim (its process died mid-attempt): release it to be sent again when the
    provider de-duplicates, else fail it ``OUTCOME_UNKNOWN`` once ``outcome_window`` has
    passed without a status webhook; ``None`` to leave it for now."""
    since = record.attempting_since
    if since is None or since >= now - policy.lease:
        return None
    if policy.dedupes:
        return Release(due_at=now, count_attempt=True, claimed_at=since)
    if since > now - policy.outcome_window:
        return None
    error = ErrorDetail(
        code=ErrorCode.OUTCOME_UNKNOWN,
        message="the process stopped mid-attempt and the provider never reported this message",
        provider=policy.provider,
    )
    return Failed(at=now, error=error, claimed_at=since)


# ----------------------------------------------------------------------------- what follows a write


def events_for(record: MessageRecord, changes: Sequence[StatusChange]) -> list[OutboxEvent]:
    """The outbound webhook events owed for ``changes`` of ``record``."""
    return [event for change in changes if (event := status_event(record, change)) is not None]


def opens_template_window(record: MessageRecord, change: StatusChange) -> bool:
    """True when ``change`` is a template reaching ``sent`` (the window policy may count it)."""
    return (
        change.status == MessageStatus.SENT
        and record.direction == Direction.OUTBOUND
        and record.category not in (None, "SERVICE")
    )


# ----------------------------------------------------------------------------- retention


def purgeable(record: MessageRecord, before: datetime, *, webhook_owed: bool) -> bool:
    """Whether retention may delete ``record``: created before ``before``, no webhook still
    owed, and (outbound) neither queued nor in flight."""
    if record.created_at >= before or webhook_owed:
        return False
    return record.direction == Direction.INBOUND or (
        record.status not in UNSENT and record.attempting_since is None
    )


PURGEABLE_SQL: Final = (
    "created_us < {before} AND (direction = 'inbound'"
    " OR (status NOT IN ('scheduled', 'pending') AND attempting_us IS NULL))"
)
"""``purgeable`` as a SQL condition over the message columns (``{before}`` a placeholder)."""


# ----------------------------------------------------------------------------- erasure


def erase(record: MessageRecord, erasure: Erasure) -> MessageRecord:
    """``record`` once its contact is erased: the pseudonym for the number, no content,
    metadata or webhook URL, errors scrubbed of the number; statuses, times and
    accounting kept. One not sent yet fails ``CONTACT_ERASED`` (a claimed one too: its
    attempt's outcome then changes nothing but the provider ids)."""
    if record.erased_at is not None:
        return record
    history = erasure.history(record.history)
    status, error = record.status, erasure.error(record.error)
    if record.direction == Direction.OUTBOUND and record.status in UNSENT:
        error = ErrorDetail(code=ErrorCode.CONTACT_ERASED, message="the contact was erased")
        change = StatusChange(status=MessageStatus.FAILED, at=erasure.at, error=error)
        moved = advance(history, change)
        if moved is not None:
            status, history = moved
    return attrs.evolve(
        record,
        contact=erasure.alias,
        status=status,
        history=history,
        error=error,
        message=None,
        inbound=None,
        metadata={},
        webhook_url=None,
        due_at=None if status not in UNSENT else record.due_at,
        erased_at=erasure.at,
    )


# ----------------------------------------------------------------------------- idempotency


class KeyState(enum.Enum):
    FRESH = "fresh"
    """No live record: the request runs and records the key with its rows."""
    REPLAY = "replay"
    """The first request finished: answer with its stored response."""
    RESUME = "resume"
    """Its rows were stored but the answer was not (the process died): answer from the rows."""


def key_state(record: IdempotencyRecord | None, fingerprint: str, now: datetime) -> KeyState:
    """What a request with an Idempotency-Key meets. Raises ``IDEMPOTENCY_KEY_REUSED``
    when the key was used with another body, ``IDEMPOTENCY_IN_PROGRESS`` (with the
    seconds until its lease ends) while the first request still runs."""
    if record is None or record.expires_at <= now:
        return KeyState.FRESH
    if record.fingerprint != fingerprint:
        raise WaportError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "this Idempotency-Key was used with another request body",
            "Idempotency-Key",
        )
    if record.response is not None:
        return KeyState.REPLAY
    if record.locked_until > now:
        raise WaportError(
            ErrorCode.IDEMPOTENCY_IN_PROGRESS,
            "a request with this Idempotency-Key is still running",
            "Idempotency-Key",
            retry_after=(record.locked_until - now).total_seconds(),
        )
    return KeyState.RESUME


def may_take_key(existing_expires_at: datetime | None, now: datetime) -> bool:
    """Whether a new record may take an Idempotency-Key: no live record holds it (an
    expired one may be overwritten). A store that cannot take it raises ``key_in_use()``
    (a concurrent request took it first)."""
    return existing_expires_at is None or existing_expires_at <= now


def key_in_use() -> WaportError:
    return WaportError(
        ErrorCode.IDEMPOTENCY_IN_PROGRESS,
        "this Idempotency-Key is already in use",
        "Idempotency-Key",
    )


# ----------------------------------------------------------------------------- contacts


def merge_contact(old: Contact | None, new: Contact) -> Contact:
    """Upsert rule: labels are merged, metadata keys overwritten, a missing name kept."""
    if old is None:
        return attrs.evolve(new, labels=tuple(sorted(set(new.labels))))
    return Contact(
        workspace_id=new.workspace_id,
        recipient=new.recipient,
        name=new.name if new.name is not None else old.name,
        labels=tuple(sorted(set(old.labels) | set(new.labels))),
        metadata={**old.metadata, **new.metadata},
        updated_at=new.updated_at,
        consent=old.consent,
    )


def change_consent(
    old: Contact | None, workspace_id: str, recipient: Recipient, change: ConsentChange
) -> Contact | None:
    """The contact after an opt-out or opt-in (created if unknown), or ``None`` when a
    newer change was made since (``consent.decide``)."""
    history = consent.decide(old.consent if old is not None else (), change)
    if history is None:
        return None
    base = old or Contact(workspace_id=workspace_id, recipient=recipient, updated_at=change.at)
    return attrs.evolve(base, consent=history, updated_at=max(base.updated_at, change.at))


__all__ = [
    "PURGEABLE_SQL",
    "Erasure",
    "AttemptOutcome",
    "MediaFetched",
    "Failed",
    "KeyState",
    "PatchAction",
    "PatchDecision",
    "Recovery",
    "Release",
    "Retry",
    "Sent",
    "StatusPatch",
    "StatusResult",
    "after_failure",
    "apply_change",
    "claim",
    "decide_patch",
    "detail_of",
    "events_for",
    "expiry",
    "finish",
    "key_state",
    "key_in_use",
    "may_take_key",
    "change_consent",
    "merge_contact",
    "opens_template_window",
    "purgeable",
    "recover",
]
