"""The message lifecycle (``waport.domain.lifecycle``) against a small reference model.

Any sequence of events (claim, the four outcomes, status patches by our id or by the
provider's, crash recovery) applied through the lifecycle functions, with a dictionary
standing in for a store, ends in the same state as the model written here from the
rules (DESIGN §2 Message status), and no status ever moves backwards.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from waport.domain import lifecycle
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.lifecycle import Failed, Release, Retry, Sent, StatusPatch
from waport.domain.records import IdempotencyRecord, MessageRecord, StoredResponse
from waport.domain.schedule import Backoff
from waport.domain.status import ErrorDetail, MessageStatus, StatusChange
from waport.testing.builders import outbound

T0 = datetime(2026, 12, 1, tzinfo=UTC)
# the oracle's own order (not the table's): unknown outcome sits between pending and sent
ORDER = {"scheduled": 0, "pending": 1, "unknown": 1.5, "sent": 2, "delivered": 3, "read": 4}
ORDER |= {"played": 5, "expired": 6, "failed": 7}
PIDS = ("w1", "w2")


def _rank(status: str, error: str | None) -> float:
    return ORDER["unknown"] if status == "failed" and error == "OUTCOME_UNKNOWN" else ORDER[status]


@attrs.define
class Model:
    status: str = "pending"
    rank: float = 1.0
    claimed: datetime | None = None
    attempts: int = 0
    pid: str | None = None
    stash: dict[str, list[tuple[str, str | None]]] = attrs.Factory(dict)

    def forward(self, status: str, error: str | None = None) -> bool:
        rank = _rank(status, error)
        if rank <= self.rank:
            return False
        self.status, self.rank = status, rank
        if rank >= ORDER["sent"]:
            self.claimed = None
        return True

    def step(self, event: tuple[Any, ...], now: datetime) -> None:
        kind = event[0]
        if kind == "claim":
            if self.status in ("scheduled", "pending") and self.claimed is None:
                self.status, self.rank = "pending", 1.0
                self.claimed, self.attempts = now, self.attempts + 1
        elif kind == "sent":
            self.claimed, self.pid = None, event[1]
            self.forward("sent")
            for status, error in sorted(self.stash.pop(event[1], []), key=lambda s: ORDER[s[0]]):
                self.forward(status, error)
        elif kind == "retry":
            self.claimed = None
        elif kind in ("failed", "release"):
            guard = event[1]
            if guard is not None and guard != self.claimed:
                return
            self.claimed = None
            if kind == "failed":
                self.forward(event[2], event[3])
            elif not event[2]:
                self.attempts = max(0, self.attempts - 1)
        elif kind == "patch_id":
            self.forward(event[1], event[2])
        elif kind == "patch_pid":
            _, status, error, pid = event
            if self.pid == pid:
                self.forward(status, error)
            else:
                self.stash.setdefault(pid, []).append((status, error))


statuses = st.sampled_from(["sent", "delivered", "read", "played", "failed", "expired"])
errors = st.sampled_from([None, "OUTCOME_UNKNOWN", "PROVIDER_REJECTED"])
events = st.one_of(
    st.just(("claim",)),
    st.tuples(st.just("sent"), st.sampled_from(PIDS)),
    st.just(("retry",)),
    st.tuples(st.just("failed"), st.sampled_from(["now", None, "old"]), statuses, errors),
    st.tuples(st.just("release"), st.sampled_from(["now", None, "old"]), st.booleans()),
    st.tuples(st.just("patch_id"), statuses, errors),
    st.tuples(st.just("patch_pid"), statuses, errors, st.sampled_from(PIDS)),
)


def _error(code: str | None) -> ErrorDetail | None:
    return None if code is None else ErrorDetail(code=code, message="x")


def _run(
    record: MessageRecord,
    stash: dict[str, list[StatusChange]],
    event: tuple[Any, ...],
    now: datetime,
) -> MessageRecord:
    kind = event[0]
    if kind == "claim":
        return lifecycle.claim(record, now) or record
    if kind == "sent":
        outcome = Sent(provider="p", provider_message_id=event[1], at=now)
        return lifecycle.finish(record, outcome, stash.pop(event[1], []))[0]
    if kind == "retry":
        error = ErrorDetail(code="PROVIDER_UNAVAILABLE", message="x")
        return lifecycle.finish(record, Retry(at=now, due_at=now, error=error))[0]
    if kind in ("failed", "release"):
        guard = {"now": record.attempting_since, None: None, "old": T0 - timedelta(days=1)}
        claimed_at = guard[event[1]]
        if kind == "release":
            outcome: Any = Release(due_at=now, count_attempt=event[2], claimed_at=claimed_at)
        else:
            error = _error(event[3]) or ErrorDetail(code="PROVIDER_REJECTED", message="x")
            outcome = Failed(
                at=now, error=error, status=MessageStatus(event[2]), claimed_at=claimed_at
            )
        return lifecycle.finish(record, outcome)[0]
    change = StatusChange(status=MessageStatus(event[1]), at=now, error=_error(event[2]))
    if kind == "patch_id":
        patch = StatusPatch(change=change, message_id=record.id)
        found: MessageRecord | None = record
    else:
        patch = StatusPatch(change=change, provider="p", provider_message_id=event[3])
        found = record if record.provider_message_id == event[3] else None
    decision = lifecycle.decide_patch(found, patch)
    if decision.action is lifecycle.PatchAction.STASH:
        stash.setdefault(event[3], []).append(change)
    return (
        decision.record
        if decision.action is lifecycle.PatchAction.WRITE and decision.record
        else record
    )


@given(st.lists(events, max_size=25))
@example(
    [
        ("claim",),
        ("patch_pid", "delivered", None, "w1"),
        ("patch_pid", "read", None, "w1"),
        ("sent", "w1"),
    ]
)
@example(
    [("claim",), ("failed", "now", "failed", "OUTCOME_UNKNOWN"), ("patch_id", "delivered", None)]
)
@example([("claim",), ("patch_id", "failed", "OUTCOME_UNKNOWN")])  # provisional: keeps the claim
def test_any_sequence_of_events_ends_as_the_model_says_and_never_moves_back(
    sequence: list[tuple[Any, ...]],
) -> None:
    record = outbound("m1", at=T0)
    stash: dict[str, list[StatusChange]] = {}
    model = Model()
    now = T0
    for event in sequence:
        now += timedelta(seconds=1)
        before = lifecycle_rank(record)
        record = _run(record, stash, event, now)
        model.step(
            event
            if event[0] not in ("failed", "release") or event[1] != "now"
            else (event[0], model.claimed, *event[2:]),
            now,
        )
        assert lifecycle_rank(record) >= before
        assert (record.status.value, record.attempting_since, record.attempts) == (
            model.status,
            model.claimed,
            model.attempts,
        )
        assert record.provider_message_id == model.pid
    assert next(c.status for c in record.history) == MessageStatus.PENDING


def lifecycle_rank(record: MessageRecord) -> float:
    last = record.history[-1]
    return _rank(last.status.value, last.error.code if last.error else None)


# ----------------------------------------------------------------------------- single rules


def test_a_patch_for_an_unknown_provider_id_is_stashed_and_one_without_any_id_ignored() -> None:
    change = StatusChange(status=MessageStatus.DELIVERED, at=T0)
    stashed = lifecycle.decide_patch(
        None, StatusPatch(change=change, provider="p", provider_message_id="w")
    )
    ignored = lifecycle.decide_patch(None, StatusPatch(change=change, message_id="m"))
    assert (stashed.result.stashed, stashed.result.changed) == (True, False)
    assert (ignored.action, ignored.result.stashed) == (lifecycle.PatchAction.IGNORE, False)


def test_a_late_patch_still_teaches_the_message_its_provider_id() -> None:
    record = attrs.evolve(
        outbound("m1", at=T0),
        status=MessageStatus.READ,
        history=(StatusChange(status=MessageStatus.READ, at=T0),),
    )
    patch = StatusPatch(
        change=StatusChange(status=MessageStatus.SENT, at=T0),
        message_id="m1",
        provider="p",
        provider_message_id="w",
    )
    decision = lifecycle.decide_patch(record, patch)
    assert decision.action is lifecycle.PatchAction.WRITE
    assert not decision.changes
    assert decision.record is not None
    assert decision.record.provider_message_id == "w"


@pytest.mark.parametrize(
    ("age", "dedupes", "expected"),
    [
        (timedelta(seconds=30), False, None),  # within the 90 s lease: still running
        (timedelta(minutes=5), True, Release),  # the provider de-duplicates: send again
        (timedelta(minutes=5), False, None),  # wait for a webhook for 10 minutes
        (timedelta(minutes=11), False, Failed),  # then OUTCOME_UNKNOWN
    ],
)
def test_recovery_of_a_stale_claim(age: timedelta, dedupes: bool, expected: type | None) -> None:
    now = T0 + timedelta(hours=1)
    record = attrs.evolve(outbound("m1", at=T0), attempting_since=now - age, attempts=1)
    policy = lifecycle.Recovery(
        lease=timedelta(seconds=90),
        outcome_window=timedelta(minutes=10),
        dedupes=dedupes,
        provider="p",
    )
    outcome = lifecycle.recover(record, now, policy)
    assert (type(outcome) if outcome else None) is expected
    if isinstance(outcome, Failed):
        assert outcome.error.code is ErrorCode.OUTCOME_UNKNOWN
        assert outcome.claimed_at == now - age


@given(st.integers(0, 12), st.booleans(), st.floats(0, 0.999))
def test_a_failure_is_retried_while_attempts_remain_and_the_deadline_allows(
    attempts: int, retryable: bool, rand: float
) -> None:
    backoff = Backoff(max_attempts=8)
    record = attrs.evolve(outbound("m1", at=T0), attempts=attempts)
    code = ErrorCode.PROVIDER_UNAVAILABLE if retryable else ErrorCode.PROVIDER_REJECTED
    outcome = lifecycle.after_failure(
        record, WaportError(code, "x"), T0, backoff=backoff, rand=rand
    )
    assert isinstance(outcome, Retry) == (retryable and attempts < 8)
    assert outcome.error.code is code


def test_an_expired_claim_fails_as_expired() -> None:
    record = outbound("m1", at=T0, expires_at=T0 + timedelta(minutes=1))
    assert lifecycle.expiry(record, T0) is None
    outcome = lifecycle.expiry(record, T0 + timedelta(minutes=1))
    assert outcome is not None
    assert outcome.status is MessageStatus.EXPIRED


@given(st.integers(-5, 5), st.integers(-5, 5), st.booleans(), st.booleans())
def test_idempotency_key_states(
    expires_in: int, locked_for: int, answered: bool, same_body: bool
) -> None:
    record = IdempotencyRecord(
        scope="k",
        key="i",
        fingerprint="f",
        created_at=T0,
        expires_at=T0 + timedelta(seconds=expires_in),
        locked_until=T0 + timedelta(seconds=locked_for),
        response=None,
    )
    if answered:
        record = attrs.evolve(record, response=StoredResponse(status=200, body=b"{}"))
    fingerprint = "f" if same_body else "g"
    if expires_in <= 0:
        assert lifecycle.key_state(record, fingerprint, T0) is lifecycle.KeyState.FRESH
        assert lifecycle.may_take_key(record.expires_at, T0)
        return
    assert not lifecycle.may_take_key(record.expires_at, T0)
    if not same_body:
        with pytest.raises(WaportError) as err:
            lifecycle.key_state(record, fingerprint, T0)
        assert err.value.code is ErrorCode.IDEMPOTENCY_KEY_REUSED
    elif answered:
        assert lifecycle.key_state(record, fingerprint, T0) is lifecycle.KeyState.REPLAY
    elif locked_for > 0:
        with pytest.raises(WaportError) as err:
            lifecycle.key_state(record, fingerprint, T0)
        assert err.value.code is ErrorCode.IDEMPOTENCY_IN_PROGRESS
        assert err.value.retry_after == locked_for
    else:
        assert lifecycle.key_state(record, fingerprint, T0) is lifecycle.KeyState.RESUME


def test_purge_eligibility() -> None:
    old, cutoff = T0, T0 + timedelta(days=2)
    pending = outbound("m1", at=old)
    sent = attrs.evolve(pending, status=MessageStatus.SENT)
    assert not lifecycle.purgeable(pending, cutoff, webhook_owed=False)
    assert lifecycle.purgeable(sent, cutoff, webhook_owed=False)
    assert not lifecycle.purgeable(sent, cutoff, webhook_owed=True)
    assert not lifecycle.purgeable(sent, old, webhook_owed=False)
    assert not lifecycle.purgeable(
        attrs.evolve(sent, attempting_since=old), cutoff, webhook_owed=False
    )
