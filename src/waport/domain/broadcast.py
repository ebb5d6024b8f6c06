"""Broadcasts: one approved template to 1-256 recipients.

Planning is pure: duplicates (after normalisation) are refused as a whole
(``DUPLICATE_RECIPIENT``, nothing stored); each row's ``template_params`` override
the shared ones key by key; every row becomes an ``OutboundMessage``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.limits import BROADCAST
from waport.domain.messages import JsonScalar, OutboundMessage, ParamValue, TemplateMessage
from waport.domain.recipients import Recipient
from waport.domain.status import MessageStatus


@attrs.frozen(kw_only=True)
class BroadcastRecipient:
    to: Recipient
    template_params: Mapping[str, ParamValue] = attrs.field(factory=dict)
    metadata: Mapping[str, JsonScalar] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class BroadcastRequest:
    template: TemplateMessage
    recipients: tuple[BroadcastRecipient, ...]
    sender_id: str | None = None
    scheduled_at: datetime | None = None
    expires_at: datetime | None = None
    webhook_url: str | None = None
    metadata: Mapping[str, JsonScalar] = attrs.field(factory=dict)


def plan_broadcast(request: BroadcastRequest) -> tuple[OutboundMessage, ...]:
    """One message per recipient, with per-row overrides applied.

    Raises ``VALIDATION_FAILED`` for no recipients, ``TOO_MANY_RECIPIENTS`` above
    256, ``DUPLICATE_RECIPIENT`` (``param: recipients[i].to``) when two rows name one
    recipient. Without a sender, the workspace's default sender sends it.
    """
    rows = request.recipients
    if not rows:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, "a broadcast needs at least one recipient", "recipients"
        )
    if len(rows) > BROADCAST.recipients_max:
        raise WaportError(
            ErrorCode.TOO_MANY_RECIPIENTS,
            f"a broadcast has at most {BROADCAST.recipients_max} recipients",
            "recipients",
        )
    seen: dict[Recipient, int] = {}
    for i, row in enumerate(rows):
        if row.to in seen:
            raise WaportError(
                ErrorCode.DUPLICATE_RECIPIENT,
                f"recipients[{i}] repeats recipients[{seen[row.to]}]",
                f"recipients[{i}].to",
            )
        seen[row.to] = i
    messages = []
    for row in rows:
        params = {**request.template.params, **row.template_params}
        content = attrs.evolve(request.template, params=params)
        messages.append(
            OutboundMessage(
                to=row.to,
                content=content,
                sender_id=request.sender_id,
                scheduled_at=request.scheduled_at,
                expires_at=request.expires_at,
                webhook_url=request.webhook_url,
                metadata={**request.metadata, **row.metadata},
            )
        )
    return tuple(messages)


@attrs.frozen(kw_only=True)
class BroadcastSummary:
    total: int
    sent: int
    pending: int
    failed: int


def summarize(statuses: Iterable[MessageStatus]) -> BroadcastSummary:
    """Count rows: sent (sent or further), pending (scheduled or pending), failed (failed or expired)."""
    sent = pending = failed = 0
    for status in statuses:
        if status.terminal:
            failed += 1
        elif status.final:
            sent += 1
        else:
            pending += 1
    return BroadcastSummary(
        total=sent + pending + failed, sent=sent, pending=pending, failed=failed
    )
