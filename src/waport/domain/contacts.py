"""Changing a contact through the API (``PATCH /v1/contacts/{phone}``): labels added and
removed, attributes set and removed, the name, and opt-out, checked field by field,
and applied to the stored contact (or a new one)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.events import InboundMessage
from waport.domain.limits import (
    CONTACT_NAME_MAX,
    LABEL_MAX,
    LABELS_MAX,
    METADATA_KEY_MAX,
    METADATA_MAX_KEYS,
    METADATA_VALUE_MAX,
)
from waport.domain.listing import DEFAULT_LIMIT, pack, page_params, unpack
from waport.domain.messages import JsonScalar
from waport.domain.recipients import Recipient, parse_recipient
from waport.domain.records import Contact

PATCH_FIELDS: Final = ("name", "labels", "attributes", "opted_out")
KEEP: Final = object()
"""A field the patch leaves as it is."""


@attrs.frozen(kw_only=True)
class ContactPatch:
    name: str | object | None = KEEP
    """A new name, ``None`` to clear it, or ``KEEP``."""
    add_labels: tuple[str, ...] = ()
    remove_labels: tuple[str, ...] = ()
    attributes: Mapping[str, JsonScalar] = attrs.field(factory=dict)
    """Attributes to set; a ``None`` value removes the attribute."""
    opted_out: bool | None = None
    """Set the opt-out (the API's word: ``consent`` source ``api``), or leave it."""


def _refuse(message: str, param: str) -> WaportError:
    return WaportError(ErrorCode.VALIDATION_FAILED, message, param)


def _labels(value: object, param: str) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > LABELS_MAX:
        raise _refuse(f"a list of at most {LABELS_MAX} labels", param)
    for i, label in enumerate(value):
        if not isinstance(label, str) or not label.strip() or len(label) > LABEL_MAX:
            raise _refuse(f"a label is 1-{LABEL_MAX} characters", f"{param}[{i}]")
    return tuple(value)


def _attributes(value: object) -> dict[str, JsonScalar]:
    if not isinstance(value, Mapping) or len(value) > METADATA_MAX_KEYS:
        raise _refuse(f"an object of at most {METADATA_MAX_KEYS} attributes", "attributes")
    out: dict[str, JsonScalar] = {}
    for key, item in value.items():
        param = f"attributes.{key}"
        if not isinstance(key, str) or not 1 <= len(key) <= METADATA_KEY_MAX:
            raise _refuse(f"an attribute name is 1-{METADATA_KEY_MAX} characters", "attributes")
        if isinstance(item, str) and len(item) > METADATA_VALUE_MAX:
            raise _refuse(f"a value is at most {METADATA_VALUE_MAX} characters", param)
        if item is not None and not isinstance(item, str | int | float | bool):
            raise _refuse("a value is a string, number, boolean or null (to remove it)", param)
        out[key] = item
    return out


def parse_contact_patch(body: object) -> ContactPatch:
    """A ``PATCH /v1/contacts/{phone}`` body: ``{"name", "labels": {"add", "remove"},
    "attributes": {name: value or null}, "opted_out"}``, every field optional."""
    if not isinstance(body, Mapping):
        raise _refuse("the body is a JSON object", "body")
    unknown = sorted(set(body) - set(PATCH_FIELDS))
    if unknown:
        raise _refuse(f"unknown field; known: {', '.join(PATCH_FIELDS)}", unknown[0])
    found: dict[str, Any] = {}
    if "name" in body:
        name = body["name"]
        if name is not None and (
            not isinstance(name, str) or not name.strip() or len(name) > CONTACT_NAME_MAX
        ):
            raise _refuse(f"the name is 1-{CONTACT_NAME_MAX} characters, or null", "name")
        found["name"] = name
    if "labels" in body:
        labels = body["labels"]
        if not isinstance(labels, Mapping) or set(labels) - {"add", "remove"}:
            raise _refuse('labels is {"add": [...], "remove": [...]}', "labels")
        found["add_labels"] = _labels(labels.get("add", []), "labels.add")
        found["remove_labels"] = _labels(labels.get("remove", []), "labels.remove")
    if "attributes" in body:
        found["attributes"] = _attributes(body["attributes"])
    if "opted_out" in body:
        if not isinstance(body["opted_out"], bool):
            raise _refuse("opted_out is true or false", "opted_out")
        found["opted_out"] = body["opted_out"]
    return ContactPatch(**found)


def patch_contact(
    old: Contact | None, workspace_id: str, recipient: Recipient, patch: ContactPatch, at: datetime
) -> Contact:
    """The contact after ``patch`` (a new one if there was none). Labels stay sorted and
    unique; at most ``LABELS_MAX`` of them and ``METADATA_MAX_KEYS`` attributes."""
    base = old or Contact(workspace_id=workspace_id, recipient=recipient, updated_at=at)
    labels = (set(base.labels) | set(patch.add_labels)) - set(patch.remove_labels)
    attributes = {**base.metadata, **patch.attributes}
    attributes = {k: v for k, v in attributes.items() if v is not None}
    if len(labels) > LABELS_MAX:
        raise _refuse(f"a contact has at most {LABELS_MAX} labels", "labels.add")
    if len(attributes) > METADATA_MAX_KEYS:
        raise _refuse(f"a contact has at most {METADATA_MAX_KEYS} attributes", "attributes")
    name = base.name if patch.name is KEEP else patch.name
    return attrs.evolve(
        base,
        name=name if isinstance(name, str) else None,
        labels=tuple(sorted(labels)),
        metadata=attributes,
        updated_at=max(base.updated_at, at),
    )


CONTACT_FILTERS: Final = ("label", "opted_out", "q", "limit", "cursor")


@attrs.frozen(kw_only=True)
class ContactQuery:
    """One page of a workspace's contacts, by number (ascending)."""

    workspace_id: str
    label: str | None = None
    opted_out: bool | None = None
    prefix: str | None = None
    """The start of the number (digits) or of the name (any case)."""
    limit: int = DEFAULT_LIMIT
    after: str | None = None
    """The number the page before ended with."""


def spoken_with(query: ContactQuery) -> bool:
    """Whether the listing includes numbers waport keeps no record of but has messages
    with (no labels, no name, never opted out): those a query by label or by opted-out
    cannot match."""
    return query.label is None and query.opted_out is not True


def heard_of(workspace_id: str, recipient: Recipient, last_at: datetime) -> Contact:
    """A number known only from messages, as the listing shows it (``updated_at``: its
    latest message)."""
    return Contact(workspace_id=workspace_id, recipient=recipient, updated_at=last_at)


def contact_cursor(contact: Contact) -> str:
    return pack(contact.recipient)


def parse_contact_query(params: Mapping[str, str], *, workspace_id: str) -> ContactQuery:
    """The query string of ``GET /v1/contacts``."""
    limit = page_params(params, CONTACT_FILTERS)
    opted = params.get("opted_out")
    if opted not in (None, "true", "false"):
        raise _refuse("opted_out must be true or false", "opted_out")
    prefix = params.get("q")
    if prefix is not None:
        prefix = prefix.strip().removeprefix("+").replace(" ", "") or None
    cursor = params.get("cursor")
    return ContactQuery(
        workspace_id=workspace_id,
        label=params.get("label") or None,
        opted_out=None if opted is None else opted == "true",
        prefix=prefix,
        limit=limit,
        after=unpack(cursor, 1)[0] if cursor else None,
    )


def matches(contact: Contact, query: ContactQuery) -> bool:
    """Whether ``contact`` is in the listing (the rule the stores' SQL follows)."""
    if query.label is not None and query.label not in contact.labels:
        return False
    if query.opted_out is not None and contact.opted_out != query.opted_out:
        return False
    if query.prefix is not None:
        name = (contact.name or "").casefold()
        if not (
            str(contact.recipient).startswith(query.prefix)
            or name.startswith(query.prefix.casefold())
        ):
            return False
    return query.after is None or str(contact.recipient) > query.after


# ----------------------------------------------------------------------------- number changes

PREVIOUS_NUMBER: Final = "previous_number"
NEW_NUMBER: Final = "new_number"


def number_change(message: InboundMessage) -> tuple[Recipient, Recipient] | None:
    """``(old, new)`` when ``message`` is the provider's word that its writer changed
    number (Meta's ``system`` message of type ``user_changed_number``)."""
    system = message.payload.get("system") if message.kind == "system" else None
    if not isinstance(system, Mapping) or system.get("type") != "user_changed_number":
        return None
    if message.contact is None or not message.contact.person:
        return None
    try:
        new = parse_recipient(str(system.get("wa_id", "")), param="wa_id")
    except WaportError:
        return None
    return (message.contact, new) if new.person and new != message.contact else None


def carry_over(
    old: Recipient, new: Recipient, known: Contact | None, profile_name: str | None = None
) -> tuple[ContactPatch, ContactPatch]:
    """What a number change writes: the new number's contact takes the old one's name (or
    the profile name the change came with) and labels and notes ``previous_number``; the
    old one notes ``new_number``. Its history, windows and opt-out stay with the old
    number (a new number has not opted in)."""
    name: str | object = known.name if known is not None and known.name else KEEP
    if name is KEEP and profile_name:
        name = profile_name
    labels = known.labels if known is not None else ()
    to_new = ContactPatch(name=name, add_labels=labels, attributes={PREVIOUS_NUMBER: str(old)})
    return to_new, ContactPatch(attributes={NEW_NUMBER: str(new)})
