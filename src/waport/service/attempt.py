"""Attempt a stored message: claim it, pace it, send it, record the outcome.

Persist-then-attempt: a message is stored before any provider call and claimed
(``attempting_since``, committed) right before it, so a restart can tell "never tried"
from "maybe sent". What an outcome means for the record is decided in
``waport.domain.lifecycle``; this module only talks to the provider and the store.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Final, TypeVar

import anyio
import attrs

from waport.domain import lifecycle
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.lifecycle import AttemptOutcome, Failed, Release, Retry, Sent
from waport.domain.messages import OutboundMessage, Reaction, TemplateMessage
from waport.domain.ratelimit import RateLimit
from waport.domain.records import MessageRecord, Workspace
from waport.domain.sources import media_of
from waport.domain.templates import BoundTemplate, TemplateSpec, check_template_params
from waport.service import media
from waport.service.core import SERVICE_CATEGORY, Core

log = logging.getLogger("waport.service")
T = TypeVar("T")

UNPACED_RPS: Final = 1_000_000
"""A provider whose ``max_rps`` is this or more (or ``inf``) is not paced per sender."""


async def _within(seconds: float, call: Awaitable[T]) -> T:
    """``await call`` with a deadline; on expiry TimeoutError. On asyncio its own timeout,
    not anyio's ``fail_after``: a second anyio cancel scope nested in the attempt's shield
    cost about 12 µs per send under load (docs/performance.md); on trio, anyio's."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        with anyio.fail_after(seconds):
            return await call
    async with asyncio.timeout(seconds):
        return await call


async def bound_template(
    core: Core, message: OutboundMessage, sender_id: str
) -> tuple[TemplateSpec, BoundTemplate]:
    """The sender's template for a template message, with its parameters bound."""
    content = message.content
    if not isinstance(content, TemplateMessage):
        raise WaportError(ErrorCode.INTERNAL, "not a template message")
    spec = await core.lookups.template(sender_id, content.name, content.language)
    if spec is None:
        raise WaportError(
            ErrorCode.TEMPLATE_NOT_FOUND,
            f"sender {sender_id} has no template {content.name!r} in {content.language}",
            "template.name",
        )
    return spec, check_template_params(spec, content)


async def pace(
    core: Core, record: MessageRecord, now: datetime, workspace: Workspace | None = None
) -> datetime | None:
    """When the message may go out, if not now (per-sender, per-recipient and
    per-category pacing; the workspace's own rates where it has them)."""
    caps = core.provider.capabilities
    limits = core.store.rate_limits
    if workspace is None:
        workspace = await core.lookups.find_workspace(record.workspace_id)
    rps = caps.max_rps
    if workspace is not None and workspace.max_sends_per_second is not None:
        rps = min(rps, workspace.max_sends_per_second)
    if rps < UNPACED_RPS:
        rate = (
            RateLimit(math.ceil(rps), timedelta(seconds=1))
            if rps >= 1
            else RateLimit(1, timedelta(seconds=1 / rps))  # slower than one a second
        )
        decision = await limits.hit(f"pace:{record.sender_id}", rate, now=now)
        if not decision.allowed:
            return now + decision.retry_after
    pair = core.policy.pair_rate or caps.pair_rate
    if pair is not None and record.contact.person:
        decision = await limits.hit(f"pair:{record.sender_id}:{record.contact}", pair, now=now)
        if not decision.allowed:
            return now + decision.retry_after
    pacing = core.policy.category_pacing
    if workspace is not None and workspace.category_pacing is not None:
        pacing = workspace.category_pacing
    gap = pacing.get(record.category or "")
    if gap is not None:
        seconds = core.rand.uniform(*gap)
        decision = await limits.hit(
            f"cat:{record.sender_id}:{record.category}",
            RateLimit(1, timedelta(seconds=seconds), burst=1),
            now=now,
        )
        if not decision.allowed:
            return now + decision.retry_after
    return None


async def _provider_id(core: Core, message_id: str) -> str:
    """A message id from the caller (ours or the provider's) as the provider's id."""
    record = await core.store.messages.get(message_id)
    if record is not None and record.provider_message_id is not None:
        return record.provider_message_id
    return message_id


async def _outcome(core: Core, record: MessageRecord, now: datetime) -> AttemptOutcome:
    message = record.message
    if message is None:
        raise WaportError(ErrorCode.INTERNAL, "an outbound record without its message")
    provider = core.provider
    bound: BoundTemplate | None = None
    reused: tuple[str, str] | None = None
    try:
        if media.stored_bytes(message):
            message, reused = await media.for_provider(core, message, record.sender_id)
        if isinstance(message.content, TemplateMessage):
            _, bound = await bound_template(core, message, record.sender_id)
        reply_to = await _provider_id(core, message.reply_to) if message.reply_to else None
        if isinstance(message.content, Reaction):
            target = await _provider_id(core, message.content.message_id)
            if target != message.content.message_id:
                message = attrs.evolve(
                    message, content=attrs.evolve(message.content, message_id=target)
                )
        own_deadline = provider.capabilities.send_timeout
        call = provider.send(
            message, sender=record.sender_id, client_id=record.id, template=bound, reply_to=reply_to
        )
        if own_deadline is not None and own_deadline <= core.policy.provider_timeout:
            receipt = await call  # the provider's own deadline is the shorter one
        else:
            receipt = await _within(core.policy.provider_timeout, call)
    except WaportError as err:
        if reused is not None:  # the provider's id may have expired early: upload anew
            core.provider_media.forget(reused, _media_id(message))
        return _after(core, record, err, now)
    except TimeoutError:
        timeout = WaportError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            "the provider did not answer in time",
            provider=provider.name,
        )
        return _after(core, record, timeout, now)
    except Exception as exc:  # an adapter bug must not lose the message
        log.exception("provider %s raised a non-waport error", provider.name)
        bug = WaportError(ErrorCode.INTERNAL, f"the provider adapter failed: {type(exc).__name__}")
        return _after(core, record, bug, now)
    return Sent(
        provider=provider.name,
        provider_message_id=receipt.provider_message_id,
        at=core.clock.now(),
    )


def _media_id(message: OutboundMessage) -> str:
    found = media_of(message)
    return getattr(found.source, "id", "") if found is not None else ""


def _after(core: Core, record: MessageRecord, err: WaportError, now: datetime) -> Retry | Failed:
    return lifecycle.after_failure(
        record, err, now, backoff=core.policy.backoff, rand=core.rand.random()
    )


async def attempt(
    core: Core, message_id: str, *, unavailable: WaportError | None = None
) -> MessageRecord:
    """Claim, pace, send and record one stored message (``unavailable``: its sender is
    down, so it waits its backoff without a call)."""
    now = core.clock.now()
    claimed = await core.store.messages.claim(message_id, now=now)
    if claimed is None:
        current = await core.store.messages.get(message_id)
        if current is None:
            raise WaportError(ErrorCode.MESSAGE_NOT_FOUND, "no such message", "message_id")
        return current
    return await run_claimed(core, claimed, now, paced=True, unavailable=unavailable)


async def run_claimed(
    core: Core,
    claimed: MessageRecord,
    now: datetime,
    *,
    paced: bool = False,
    unavailable: WaportError | None = None,
) -> MessageRecord:
    """Attempt a claimed message and record the outcome. Shielded: once claimed, the
    outcome is always written, even if the caller goes away."""
    with anyio.CancelScope(shield=True):
        core.attempting += 1
        try:
            outcome: AttemptOutcome | None = lifecycle.expiry(claimed, now)
            if outcome is None and unavailable is not None:
                outcome = _after(core, claimed, unavailable, now)
            if outcome is None:
                not_before = await pace(core, claimed, now) if paced else None
                outcome = (
                    Release(due_at=not_before) if not_before else await _outcome(core, claimed, now)
                )
            record = await core.store.messages.finish(claimed.id, outcome)
        finally:
            core.attempting -= 1
        if isinstance(outcome, Failed):
            await core.billing.refund(
                record.workspace_id, category=record.category or SERVICE_CATEGORY, count=1
            )
        if isinstance(outcome, Release | Retry):
            core.wake()
    return record
