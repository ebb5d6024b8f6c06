"""Send one message: parse -> capabilities -> sender -> template -> window -> limits ->
billing -> persist -> attempt.

Refusals before anything is stored raise ``WaportError``; an accepted message is stored
(with its Idempotency-Key and contact, in one transaction) before it is attempted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import anyio
import attrs

from waport.domain import ledger, lifecycle, sender_health
from waport.domain.consent import opted_out_error, refuses
from waport.domain.convert import parse_send_request
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.ledger import LedgerEntry
from waport.domain.limits import MESSAGING_LIMIT_PERIOD
from waport.domain.messages import MediaStored, OutboundMessage, Reaction, TemplateMessage
from waport.domain.records import (
    Contact,
    Direction,
    IdempotencyRecord,
    MessageRecord,
    Sender,
    Workspace,
)
from waport.domain.status import MessageStatus, StatusChange
from waport.domain.window import is_gated, window_status
from waport.service import media
from waport.service.attempt import bound_template, pace, run_claimed
from waport.service.core import SERVICE_CATEGORY, Core, IdempotencyClaim, Scope, SendResult
from waport.service.rules import check_capabilities

log = logging.getLogger("waport.service")


async def check_limits(
    core: Core, workspace: Workspace, rows: Sequence[MessageRecord], now: datetime
) -> None:
    """Billing suspension and the messaging tier (unique contacts reached outside a
    window in a moving 24 h)."""
    if workspace.billing_suspended:
        raise WaportError(ErrorCode.BILLING_SUSPENDED, "the workspace's billing is suspended")
    tier = workspace.messaging_tier
    initiated = {r.contact for r in rows if r.initiated}
    if tier is None or not initiated:
        return
    since = now - MESSAGING_LIMIT_PERIOD
    messages = core.store.messages
    already = await messages.initiated_contacts(workspace.id, since, initiated)
    new = len(initiated - already)
    over = await messages.count_initiated(workspace.id, since) + new - tier if new else 0
    if over > 0:
        # room again once ``over`` of the contacts reached leave the moving window
        leaves = await messages.leaves_window(workspace.id, since, over - 1)
        wait = (leaves + MESSAGING_LIMIT_PERIOD - now).total_seconds() if leaves else None
        raise WaportError(
            ErrorCode.MESSAGING_LIMIT_REACHED,
            f"the workspace may reach {tier} new contacts outside a window per 24 h",
            retry_after=wait if wait is None or wait > 0 else 1.0,
        )


def debits(core: Core, rows: Sequence[MessageRecord], now: datetime) -> list[LedgerEntry]:
    """What accepting ``rows`` costs a prepaid workspace (``Policy.prices``); the store
    debits it with the rows, or refuses them all (``INSUFFICIENT_BALANCE``)."""
    prices = core.policy.prices
    if not prices:
        return []
    return [entry for r in rows if (entry := ledger.debit(r, prices, now)) is not None]


async def check_targets(core: Core, message: OutboundMessage, workspace_id: str) -> None:
    """The messages a send names (``reply_to``, a reaction's ``message_id``), when they
    are ours, must be of the caller's workspace: another workspace's message (and its
    provider id) never reaches the provider. A provider's id passes as it is."""
    targets = [(message.reply_to, "reply_to")] if message.reply_to is not None else []
    if isinstance(message.content, Reaction):
        targets.append((message.content.message_id, "reaction.message_id"))
    for target_id, param in targets:
        target = await core.store.messages.get(target_id)
        if target is not None and target.workspace_id != workspace_id:
            raise WaportError(ErrorCode.MESSAGE_NOT_FOUND, "no such message", param)


async def prepare(
    core: Core,
    message: OutboundMessage,
    *,
    workspace: Workspace,
    sender: Sender,
    now: datetime,
    broadcast_id: str | None = None,
) -> MessageRecord:
    """Check one message (URLs, templates, window) and build its record. Raises on refusal."""
    if core.url_guard is not None:
        if message.webhook_url is not None:
            await core.url_guard.check(message.webhook_url, param="webhook_url", kind="webhook")
        for param, url in message.fetched_urls():
            await core.url_guard.check(url, param=param, kind="media")
    category = SERVICE_CATEGORY
    initiated = False
    caps = core.provider.capabilities
    messages = core.store.messages
    if isinstance(message.content, TemplateMessage):
        spec, _ = await bound_template(core, message, sender.id)
        category = spec.category.value
        blocked = core.consent_rules(workspace).blocked
        if category in blocked and message.to.person:
            contact = await core.store.contacts.get(workspace.id, message.to)
            if contact is not None and refuses(category, contact.opted_out, blocked):
                raise opted_out_error()
        if caps.window_applies:
            last = await messages.last_inbound(workspace.id, message.to, sender.id)
            initiated = not window_status(last, now).within_window
    elif (
        caps.window_applies
        and message.check_window
        and is_gated(message.content)
        and message.to.person
    ):
        last = await messages.last_inbound(
            workspace.id, message.to, sender.id, include_templates=workspace.template_opens_window
        )
        if not window_status(last, now).within_window:
            raise WaportError(
                ErrorCode.WINDOW_CLOSED,
                "the 24-hour customer-service window with this contact is closed; send an approved template",
                "to",
            )
    scheduled = message.scheduled_at is not None and message.scheduled_at > now
    status = MessageStatus.SCHEDULED if scheduled else MessageStatus.PENDING
    return MessageRecord(
        id=core.ids.new_id("msg"),
        workspace_id=workspace.id,
        sender_id=sender.id,
        contact=message.to,
        direction=Direction.OUTBOUND,
        status=status,
        history=(StatusChange(status=status, at=now),),
        created_at=now,
        message=message
        if message.sender_id == sender.id
        else attrs.evolve(message, sender_id=sender.id),
        broadcast_id=broadcast_id,
        category=category,
        initiated=initiated,
        due_at=message.scheduled_at if scheduled else now,
        webhook_url=message.webhook_url or workspace.webhook_url,
        metadata=message.metadata,
    )


async def with_stored_media(
    core: Core, record: MessageRecord, memo: dict[tuple[str, bytes], MediaStored] | None = None
) -> MessageRecord:
    """The record with its message's inline bytes moved to the media store."""
    if record.message is None:
        return record
    message = await media.externalize(core, record.message, record.workspace_id, memo)
    return record if message is record.message else attrs.evolve(record, message=message)


def idempotency_record(
    core: Core, claim: IdempotencyClaim, ids: tuple[str, ...], now: datetime
) -> IdempotencyRecord:
    return IdempotencyRecord(
        scope=claim.scope,
        key=claim.key,
        fingerprint=claim.fingerprint,
        created_at=now,
        expires_at=now + core.policy.idempotency_ttl,
        locked_until=now + core.policy.idempotency_lease,
        message_ids=ids,
    )


async def send(
    core: Core,
    request: OutboundMessage | Mapping[str, Any],
    scope: Scope,
    *,
    attempt: bool | None = None,
) -> SendResult:
    """Send one message. Refusals before anything is stored raise ``WaportError``;
    an accepted message comes back with its status (sent, pending, scheduled or failed).
    ``attempt=False`` only stores it (pending) for the dispatcher; ``None`` follows
    ``Policy.inline_attempt``."""
    inline = core.inline(attempt)
    workspace = await core.lookups.workspace(core.workspace_of(scope))
    message = (
        request
        if isinstance(request, OutboundMessage)
        else parse_send_request(await media.complete_request(core, request, workspace.id))
    )
    check_capabilities(core.provider.capabilities, message)
    sender = await core.lookups.sender(workspace, message.sender_id, scope.senders)
    if (down := sender_health.refusal(sender)) is not None:
        raise down
    if message.reply_to is not None or isinstance(message.content, Reaction):
        await check_targets(core, message, workspace.id)
    now = core.clock.now()
    record = await prepare(core, message, workspace=workspace, sender=sender, now=now)
    await check_limits(core, workspace, [record], now)
    if media.inline_bytes(message):
        record = await with_stored_media(core, record)
    category = record.category or SERVICE_CATEGORY
    await core.billing.reserve(workspace.id, category=category, count=1)
    claimed = False
    try:
        if record.status == MessageStatus.PENDING and inline:
            # pace first; a message that may go now is stored already claimed, so its
            # acceptance and its "attempting" mark land in one commit
            not_before = await pace(core, record, now, workspace)
            if not_before is not None:
                record = attrs.evolve(record, due_at=not_before)
            else:
                record = lifecycle.claim(record, now) or record
                claimed = True
        async with core.store.transaction() as tx:
            tx.add_messages([record])
            tx.debit(debits(core, [record], now))
            if scope.idempotency is not None:
                tx.claim_idempotency(idempotency_record(core, scope.idempotency, (record.id,), now))
            if message.contact is not None:
                tx.upsert_contact(
                    Contact(
                        workspace_id=workspace.id,
                        recipient=message.to,
                        name=message.contact.name,
                        labels=message.contact.labels,
                        metadata=message.contact.metadata,
                        updated_at=now,
                    )
                )
    except BaseException:
        with anyio.CancelScope(shield=True):
            await core.billing.refund(workspace.id, category=category, count=1)
        raise
    log.debug("message %s to %s accepted (%s)", record.id, record.contact, record.status)
    if not claimed:
        core.wake()  # queued for later: the dispatcher takes it from here
        return SendResult(message=record)
    return SendResult(message=await run_claimed(core, record, now))
