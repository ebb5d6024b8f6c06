"""Playing the customer on the sandbox: a contact writes to a sender, or the next
outcomes are scripted. Only a provider with sandbox controls offers these."""

from __future__ import annotations

from collections.abc import Mapping

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.media import check_media, kind_from_mime, parse_data_uri
from waport.domain.messages import MediaData
from waport.domain.recipients import Recipient, parse_recipient
from waport.domain.records import MessageRecord
from waport.ports import SandboxControl
from waport.service import media
from waport.service.core import Core, IngestReport, Scope
from waport.service.ingest import ingest
from waport.service.templates import sender_ids


def controls(core: Core) -> SandboxControl:
    control = core.provider.sandbox
    if control is None:
        raise WaportError(
            ErrorCode.NOT_FOUND, "the sandbox endpoints exist only when the provider is the sandbox"
        )
    return control


async def script(
    core: Core,
    scope: Scope,
    *,
    to: Recipient | None,
    fail_with: ErrorCode | None,
    delay_ms: int,
    retry_after: float | None,
    times: int,
) -> None:
    """Script the next outcome(s) of sends from the senders the caller may use: one key
    cannot script failures for another sender's or another workspace's sends."""
    control = controls(core)
    senders = frozenset(await sender_ids(core, scope))
    control.script(
        to=to,
        fail_with=fail_with,
        delay_ms=delay_ms,
        retry_after=retry_after,
        times=times,
        senders=senders,
    )


async def _media(core: Core, scope: Scope, value: object) -> MediaData:
    """What the contact sends: ``{"data": "data:<mime>;base64,..."}`` or ``{"id":
    "med_..."}`` (an upload of the caller's workspace), within its kind's limits."""
    if not isinstance(value, Mapping) or len(value) != 1 or not {"data", "id"} & set(value):
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            'media is {"data": "data:..."} or {"id": "med_..."}',
            "media",
        )
    if "data" in value:
        uri = parse_data_uri(value["data"], param="media.data")
        found = MediaData(uri.mime, uri.data)
    else:
        kept = await media.find(core, scope, str(value["id"]), "media.id")
        parts = [chunk async for chunk in media.read(core, kept.id)]
        found = MediaData(kept.mime_type, b"".join(parts))
    check_media(kind_from_mime(found.mime), found.mime, len(found.data))
    return found


async def inbound(
    core: Core,
    scope: Scope,
    *,
    contact: object,
    text: str,
    to_sender: str | None = None,
    reply_to: str | None = None,
    media: object = None,
) -> tuple[MessageRecord | None, IngestReport]:
    """A contact (a phone number) writes ``text`` to one of the scope's senders (the
    workspace's default sender when none is named), answering ``reply_to`` (our message id or the
    provider's): the window opens and ``message.received`` (or ``message.reply``)
    follows, as for a real provider's webhook."""
    control = controls(core)
    who = parse_recipient(contact, param="from")
    if to_sender is not None and scope.senders is not None and to_sender not in scope.senders:
        raise WaportError(ErrorCode.FORBIDDEN, "this API key may not use this sender", "to_sender")
    senders = await sender_ids(core, scope)
    sender = to_sender
    if sender is None and senders:  # the one a send without sender_id goes from
        workspace = await core.lookups.workspace(core.workspace_of(scope))
        sender = (await core.lookups.sender(workspace, None, scope.senders)).id
    if sender is None or sender not in senders:
        raise WaportError(
            ErrorCode.SENDER_NOT_FOUND, "no such sender in the workspace", "to_sender"
        )
    answered = None
    if reply_to is not None:
        target = await core.store.messages.get(reply_to)
        if target is not None and target.workspace_id == core.workspace_of(scope):
            answered = target.provider_message_id or reply_to
        else:
            answered = reply_to
    sent = await _media(core, scope, media) if media is not None else None
    event = control.inbound(
        contact=who,
        sender_id=sender,
        text=text,
        at=core.clock.now(),
        reply_to=answered,
        media=sent,
    )
    report = await ingest(core, [event])
    record = await core.store.messages.find_by_provider_id(
        event.provider, event.provider_message_id
    )
    return record, report
