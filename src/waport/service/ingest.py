"""Take provider events: inbound messages (stored once, open the window, enqueue
``message.received`` / ``message.reply``) and status updates (merged forward only)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import attrs

from waport.domain.events import (
    InboundMessage,
    ProviderEvent,
    SenderUpdate,
    StatusUpdate,
    TemplateUpdate,
)
from waport.domain.lifecycle import StatusPatch
from waport.domain.records import Direction, MessageRecord
from waport.domain.status import MessageStatus, StatusChange
from waport.service import consent, inbound_media, signals, templates
from waport.service.contacts import note_number_changes
from waport.service.core import Core, IngestReport

log = logging.getLogger("waport.service")


async def _inbound_record(core: Core, event: InboundMessage) -> MessageRecord | str:
    """The record of one inbound message, or why it is dropped (``"sender"``, ``"contact"``)."""
    sender = await core.lookups.find_sender(event.sender_id)
    if sender is None:
        log.warning("inbound message for unknown sender %s dropped", event.sender_id)
        return "sender"
    workspace = await core.lookups.find_workspace(sender.workspace_id)
    webhook_url = workspace.webhook_url if workspace else None
    reply_to = None
    if event.reply_to:
        target = await core.store.messages.find_by_provider_id(event.provider, event.reply_to)
        if target is not None and target.workspace_id == sender.workspace_id:
            reply_to = target.id
            # the answer goes where the message it answers reported its own events
            webhook_url = target.webhook_url or webhook_url
    contact = event.contact
    message = event
    contacts = core.store.contacts
    if contact is not None and event.alias:
        await contacts.link_alias(event.alias, contact)
    elif contact is None and event.alias:
        contact = await contacts.resolve_alias(event.alias)
        message = attrs.evolve(event, contact=contact)
    if contact is None:
        log.warning(
            "inbound message %s from an unresolved alias dropped", event.provider_message_id
        )
        return "contact"
    return MessageRecord(
        id=core.ids.new_id("msg"),
        workspace_id=sender.workspace_id,
        sender_id=sender.id,
        contact=contact,
        direction=Direction.INBOUND,
        status=MessageStatus.DELIVERED,
        history=(StatusChange(status=MessageStatus.DELIVERED, at=event.received_at),),
        created_at=event.received_at,
        inbound=message,
        provider=event.provider,
        provider_message_id=event.provider_message_id,
        webhook_url=webhook_url,
        reply_to=reply_to,
    )


async def ingest(core: Core, events: Sequence[ProviderEvent]) -> IngestReport:
    records: list[MessageRecord] = []
    dropped: list[str] = []
    for event in events:
        if isinstance(event, InboundMessage):
            made = await _inbound_record(core, event)
            if isinstance(made, str):
                dropped.append(made)
            else:
                records.append(made)
    opted = await consent.keep(core, records)  # first: a crash may not lose a STOP
    flags = await core.store.messages.record_inbound(records) if records else []
    stored = [r for r, new in zip(records, flags, strict=False) if new]
    for record in stored:
        log.debug("inbound %s from %s stored", record.id, record.contact)
    inbound_media.queue(core, stored)
    await note_number_changes(core, stored)
    if opted:
        await consent.announce(core, stored, opted)
    patches = [
        StatusPatch(
            change=StatusChange(status=e.status, at=e.at, error=e.error),
            message_id=e.message_id,
            provider=e.provider,
            provider_message_id=e.provider_message_id,
        )
        for e in events
        if isinstance(e, StatusUpdate)
    ]
    results = await core.store.messages.apply_statuses(patches) if patches else []
    reviews = [e for e in events if isinstance(e, TemplateUpdate)]
    changed, unknown = await templates.apply_updates(core, reviews) if reviews else (0, 0)
    said = [e for e in events if isinstance(e, SenderUpdate)]
    senders_changed = await signals.apply_sender_updates(core, said) if said else 0
    return IngestReport(
        inbound_new=sum(flags),
        inbound_duplicate=len(flags) - sum(flags),
        statuses_applied=sum(r.changed for r in results),
        statuses_ignored=sum(not r.changed and not r.stashed for r in results),
        statuses_stashed=sum(r.stashed for r in results),
        unknown_sender=dropped.count("sender"),
        unresolved_contact=dropped.count("contact"),
        templates_changed=changed,
        templates_unknown=unknown,
        senders_changed=senders_changed,
    )
