"""Contacts through the API: one contact with what waport knows of it (labels,
attributes, the name it gave and the one the provider reported, when it was first and
last seen, the window with each sender, opt-out and its history), a change to it, and
the workspace's contacts a page at a time. Contacts belong to the workspace, not to a
sender: a number-scoped key sees them too."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from waport.domain.consent import ConsentChange
from waport.domain.contacts import (
    ContactQuery,
    carry_over,
    contact_cursor,
    number_change,
    parse_contact_patch,
    parse_contact_query,
)
from waport.domain.erasure import Erasure, pseudonym
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.inbound_media import stored_media_id
from waport.domain.listing import MessageQuery
from waport.domain.recipients import Recipient, parse_recipient
from waport.domain.records import Contact, MessageRecord
from waport.domain.window import window_status
from waport.service.core import Core, Scope


@attrs.frozen(kw_only=True)
class ContactDetail:
    """A contact as ``GET /v1/contacts/{phone}`` shows it."""

    contact: Contact
    profile_name: str | None
    """The name the contact's WhatsApp profile gave, in their latest message."""
    first_seen: str | None
    last_seen: str | None
    windows: Mapping[str, Mapping[str, Any]]
    """Per sender: whether the window is open and until when."""


@attrs.frozen(kw_only=True)
class ErasedContact:
    """What ``DELETE /v1/contacts/{phone}`` did."""

    pseudonym: Recipient
    """What the erased messages name instead of the number."""
    messages: int
    media: int
    """Media the contact sent that were deleted."""


@attrs.frozen
class ContactPage:
    contacts: Sequence[Contact]
    next_cursor: str | None


def _phone(text: str) -> Recipient:
    recipient = parse_recipient(text, param="phone")
    if not recipient.person:
        raise WaportError(
            ErrorCode.INVALID_RECIPIENT,
            "a contact is a phone number (or a WhatsApp user id)",
            "phone",
        )
    return recipient


async def get_contact(core: Core, scope: Scope, phone: str) -> ContactDetail:
    """What waport knows of a contact (``NOT_FOUND`` if nothing: never written to, never
    wrote, never labelled)."""
    workspace_id = core.workspace_of(scope)
    recipient = _phone(phone)
    store = core.store
    found = await store.contacts.get(workspace_id, recipient)
    span = await store.messages.contact_span(workspace_id, recipient)
    if found is None and span is None:
        raise WaportError(ErrorCode.NOT_FOUND, "no contact with this number", "phone")
    contact = found or Contact(
        workspace_id=workspace_id, recipient=recipient, updated_at=core.clock.now()
    )
    latest = await store.messages.page(
        MessageQuery(workspace_id=workspace_id, contact=recipient, direction="inbound", limit=1)
    )
    profile = latest[0].inbound.contact_name if latest and latest[0].inbound else None
    now = core.clock.now()
    windows: dict[str, Mapping[str, Any]] = {}
    for sender in await core.lookups.senders(workspace_id):
        last = await store.messages.last_inbound(workspace_id, recipient, sender.id)
        status = window_status(last, now)
        windows[sender.id] = {
            "within_window": status.within_window,
            "expires_at": status.expires_at.isoformat() if status.expires_at else None,
        }
    return ContactDetail(
        contact=contact,
        profile_name=profile,
        first_seen=span[0].isoformat() if span else None,
        last_seen=span[1].isoformat() if span else None,
        windows=windows,
    )


async def patch_contact(core: Core, scope: Scope, phone: str, body: object) -> ContactDetail:
    """Change a contact: labels, attributes, name, opt-out (``PATCH``), creating it."""
    workspace_id = core.workspace_of(scope)
    recipient = _phone(phone)
    patch = parse_contact_patch(body)
    now = core.clock.now()
    await core.store.contacts.patch(workspace_id, recipient, patch, now)
    if patch.opted_out is not None:
        change = ConsentChange(opted_out=patch.opted_out, at=now, source="api")
        await core.store.contacts.set_consent(workspace_id, recipient, change)
    return await get_contact(core, scope, phone)


async def list_contacts(
    core: Core, scope: Scope, params: Mapping[str, str] | ContactQuery
) -> ContactPage:
    """A page of the workspace's contacts by number (``GET /v1/contacts``)."""
    query = (
        params
        if isinstance(params, ContactQuery)
        else parse_contact_query(params, workspace_id=core.workspace_of(scope))
    )
    rows = await core.store.contacts.page(query)
    shown = rows[: query.limit]
    following = contact_cursor(shown[-1]) if len(rows) > query.limit else None
    return ContactPage(contacts=shown, next_cursor=following)


async def erase_contact(core: Core, scope: Scope, phone: str) -> ErasedContact:
    """Erase a contact's personal data (a data-protection request): the number is
    replaced by a salted hash whose salt is not kept, texts, names, labels, attributes,
    opt-out and the media they sent are removed; statuses, times and categories stay
    for accounting (``MessageStore.erase_contact``). Its messages not sent yet fail
    ``CONTACT_ERASED``. Erasing a number waport does not know changes nothing."""
    workspace_id = core.workspace_of(scope)
    recipient = _phone(phone)
    alias = pseudonym(recipient, secrets.token_bytes(16))
    erasure = Erasure(recipient=recipient, alias=alias, at=core.clock.now())
    erased = await core.store.messages.erase_contact(workspace_id, erasure)
    media = 0
    for record in erased:
        if record.direction == "inbound":  # after a fetch under way, if one is
            async with core.inbound_fetches.one_fetch(record.id):
                media += await core.store.media.delete(stored_media_id(record.id))
    return ErasedContact(pseudonym=alias, messages=len(erased), media=media)


async def note_number_changes(core: Core, records: Sequence[MessageRecord]) -> int:
    """Contacts whose number changed (stored inbound ``system`` messages saying so): the
    new number's contact takes the old one's name and labels; returns how many."""
    changed = 0
    for record in records:
        change = number_change(record.inbound) if record.inbound is not None else None
        if change is None:
            continue
        old, new = change
        store = core.store.contacts
        known = await store.get(record.workspace_id, old)
        profile = record.inbound.contact_name if record.inbound is not None else None
        to_new, to_old = carry_over(old, new, known, profile)
        await store.patch(record.workspace_id, new, to_new, record.created_at)
        await store.patch(record.workspace_id, old, to_old, record.created_at)
        changed += 1
    return changed


async def on_whatsapp(
    core: Core, scope: Scope, phone: str, sender_id: str | None = None
) -> tuple[Recipient, str, bool]:
    """Whether a number has WhatsApp, asked through a sender of the caller's (the
    workspace's default when none is named): the number, the sender, the answer.
    ``FEATURE_NOT_SUPPORTED`` when the provider cannot tell (Meta's Cloud API)."""
    recipient = _phone(phone)
    numbers = core.provider.numbers
    if numbers is None:
        raise WaportError(
            ErrorCode.FEATURE_NOT_SUPPORTED,
            f"the {core.provider.name} provider cannot tell whether a number has WhatsApp",
        )
    workspace = await core.lookups.workspace(core.workspace_of(scope))
    sender = await core.lookups.sender(workspace, sender_id, scope.senders)
    return recipient, sender.id, await numbers.on_whatsapp(recipient, sender=sender.id)
