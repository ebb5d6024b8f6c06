"""Opt-out from inbound keywords: a contact's STOP is kept (on the contact) before the
message that said it is acknowledged, so a crash can never lose it; after the message
is stored, ``contact.opted_out`` / ``contact.opted_in`` follows its
``message.received``, and the configured confirmation (``Policy.opt_out_reply``) is
queued as a text inside the window the message opened. The keywords, the blocked
categories and the confirmation are the workspace's (``Workspace.consent``), or the
gateway's."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from waport.domain.consent import Consent, ConsentChange, ConsentRules, classify, flipped
from waport.domain.errors import WaportError
from waport.domain.records import Contact, MessageRecord, consent_event
from waport.service.core import Core, Scope
from waport.service.send import send

log = logging.getLogger("waport.consent")


async def _rules(core: Core, workspace_id: str) -> ConsentRules:
    return core.consent_rules(await core.lookups.find_workspace(workspace_id))


def _said(rules: ConsentRules, record: MessageRecord) -> Consent | None:
    inbound = record.inbound
    if inbound is None or inbound.kind != "text" or not record.contact.person:
        return None
    return classify(inbound.text, rules.opt_out_keywords, rules.opt_in_keywords)


async def keep(core: Core, records: Sequence[MessageRecord]) -> dict[str, Contact]:
    """Before the records are stored: apply the keywords they say (by their workspace's
    rules), oldest first. The contacts that changed, by the id of the record that
    changed them."""
    changed: dict[str, Contact] = {}
    for record in sorted(records, key=lambda r: r.created_at):
        if record.inbound is None or record.inbound.kind != "text":
            continue
        said = _said(await _rules(core, record.workspace_id), record)
        if said is None:
            continue
        change = ConsentChange(
            opted_out=said.opted_out, at=record.created_at, source="keyword", message_id=record.id
        )
        after = await core.store.contacts.set_consent(record.workspace_id, record.contact, change)
        if after is not None and flipped(after.consent):
            log.info("%s opted %s", record.contact, "out" if said.opted_out else "in")
            changed[record.id] = after
    return changed


async def announce(
    core: Core, stored: Sequence[MessageRecord], changed: dict[str, Contact]
) -> None:
    """After the records are stored: the events of the changes they made, and the
    confirmation of an opt-out."""
    events = []
    for record in stored:
        contact = changed.get(record.id)
        if contact is None:
            continue
        event = consent_event(record, contact)
        if event is not None:
            events.append(event)
        reply = (await _rules(core, record.workspace_id)).reply if contact.opted_out else None
        if reply:
            await _confirm(core, record, reply)
    if events:
        await core.store.outbox.add(events)


async def _confirm(core: Core, record: MessageRecord, text: str) -> None:
    request = {"to": str(record.contact), "sender_id": record.sender_id, "text": text}
    try:
        await send(core, request, Scope(workspace_id=record.workspace_id), attempt=False)
    except WaportError as err:
        log.warning("the opt-out confirmation to %s was refused: %s", record.contact, err)
