"""One template to 1-256 recipients, persist-then-attempt (DESIGN §2 Broadcast).

Whole-request refusals raise (nothing stored): a malformed body, duplicates, an
unknown sender, ``MESSAGING_LIMIT_REACHED``, ``INSUFFICIENT_BALANCE``. A row refused
before sending (template, parameters) is stored and marked ``failed``. Rows attempted
inside the call are reserved from this process's dispatcher until their outcome is
known, so the answer reports every row as it ended.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import anyio

from waport.domain import lifecycle, sender_health
from waport.domain.broadcast import BroadcastRequest, plan_broadcast
from waport.domain.convert import parse_broadcast_request
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.lifecycle import Failed
from waport.domain.messages import MediaStored, OutboundMessage
from waport.domain.records import Direction, MessageRecord, Sender, Workspace
from waport.domain.status import MessageStatus, StatusChange
from waport.service import media
from waport.service.attempt import attempt
from waport.service.core import SERVICE_CATEGORY, BroadcastResult, Core, Scope
from waport.service.rules import check_capabilities
from waport.service.send import (
    check_limits,
    debits,
    idempotency_record,
    prepare,
    with_stored_media,
)


def _bare_row(
    core: Core,
    message: OutboundMessage,
    *,
    workspace: Workspace,
    sender: Sender,
    now: datetime,
    broadcast_id: str,
) -> MessageRecord:
    return MessageRecord(
        id=core.ids.new_id("msg"),
        workspace_id=workspace.id,
        sender_id=sender.id,
        contact=message.to,
        direction=Direction.OUTBOUND,
        status=MessageStatus.PENDING,
        history=(StatusChange(status=MessageStatus.PENDING, at=now),),
        created_at=now,
        message=message,
        broadcast_id=broadcast_id,
        category=SERVICE_CATEGORY,
        due_at=None,
        webhook_url=message.webhook_url or workspace.webhook_url,
        metadata=message.metadata,
    )


async def broadcast(
    core: Core,
    request: BroadcastRequest | Mapping[str, Any],
    scope: Scope,
    *,
    attempt_rows: bool | None = None,
    progress: Callable[[MessageRecord], object] | None = None,
) -> BroadcastResult:
    """``attempt_rows=False`` leaves the rows pending for the dispatcher; ``None``
    follows ``Policy.inline_attempt``. ``progress`` hears of each row attempted (or
    refused) here, as it finishes."""
    workspace = await core.lookups.workspace(core.workspace_of(scope))
    req = (
        request
        if isinstance(request, BroadcastRequest)
        else parse_broadcast_request(await media.complete_request(core, request, workspace.id))
    )
    messages = plan_broadcast(req)
    check_capabilities(core.provider.capabilities, messages[0])
    sender = await core.lookups.sender(workspace, req.sender_id, scope.senders)
    if (down := sender_health.refusal(sender)) is not None:
        raise down
    now = core.clock.now()
    broadcast_id = core.ids.new_id("bc")
    rows: list[MessageRecord] = []
    refused: dict[str, WaportError] = {}
    for message in messages:
        try:
            rows.append(
                await prepare(
                    core,
                    message,
                    workspace=workspace,
                    sender=sender,
                    now=now,
                    broadcast_id=broadcast_id,
                )
            )
        except WaportError as err:
            row = _bare_row(
                core,
                message,
                workspace=workspace,
                sender=sender,
                now=now,
                broadcast_id=broadcast_id,
            )
            rows.append(row)
            refused[row.id] = err
    live = [r for r in rows if r.id not in refused]
    await check_limits(core, workspace, live, now)
    memo: dict[tuple[str, bytes], MediaStored] = {}  # the rows share one stored copy
    rows = [
        await with_stored_media(core, row, memo)
        if row.message is not None and media.inline_bytes(row.message)
        else row
        for row in rows
    ]
    live = [r for r in rows if r.id not in refused]
    category = (live[0].category if live else None) or SERVICE_CATEGORY
    if live:
        await core.billing.reserve(workspace.id, category=category, count=len(live))
    inline = core.inline(attempt_rows)
    to_attempt = [r.id for r in live if inline and r.status == MessageStatus.PENDING]
    core.reserved.update(to_attempt)  # before the rows exist: the dispatcher leaves them
    try:
        try:
            async with core.store.transaction() as tx:
                tx.add_messages(rows)
                tx.debit(debits(core, live, now))
                if scope.idempotency is not None:
                    ids = tuple(r.id for r in rows)
                    tx.claim_idempotency(idempotency_record(core, scope.idempotency, ids, now))
        except BaseException:
            if live:
                with anyio.CancelScope(shield=True):
                    await core.billing.refund(workspace.id, category=category, count=len(live))
            raise
        finals: dict[str, MessageRecord] = {}
        for row_id, refusal in refused.items():
            if await core.store.messages.claim(row_id, now=now) is not None:
                finals[row_id] = await core.store.messages.finish(
                    row_id, Failed(at=now, error=lifecycle.detail_of(refusal))
                )
                if progress is not None:
                    progress(finals[row_id])
        if to_attempt:
            limiter = anyio.CapacityLimiter(core.policy.broadcast_concurrency)

            async def attempt_row(row_id: str) -> None:
                async with limiter:
                    finals[row_id] = await attempt(core, row_id)
                if progress is not None:
                    progress(finals[row_id])

            async with anyio.create_task_group() as tg:
                for row_id in to_attempt:
                    tg.start_soon(attempt_row, row_id)
    finally:
        core.reserved.difference_update(to_attempt)
    core.wake()  # scheduled rows, retries and releases are the dispatcher's
    return BroadcastResult(broadcast_id=broadcast_id, rows=tuple(finals.get(r.id, r) for r in rows))


async def get_broadcast(core: Core, broadcast_id: str, scope: Scope) -> BroadcastResult:
    rows = await core.store.messages.by_broadcast(broadcast_id)
    if not rows or rows[0].workspace_id != core.workspace_of(scope):
        raise WaportError(ErrorCode.BROADCAST_NOT_FOUND, "no such broadcast", "broadcast_id")
    return BroadcastResult(broadcast_id=broadcast_id, rows=tuple(rows))
