"""Reads and read receipts: a message, the window with a contact, marking inbound read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import anyio
import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.lifecycle import StatusPatch
from waport.domain.listing import (
    Conversation,
    Cursor,
    MessageQuery,
    parse_conversation_query,
    parse_message_query,
)
from waport.domain.recipients import Recipient, parse_recipient, stored_recipient
from waport.domain.records import Direction, MessageRecord
from waport.domain.status import MessageStatus, StatusChange
from waport.domain.window import WindowStatus, window_status
from waport.service.core import Core, Scope


async def get_message(core: Core, message_id: str, scope: Scope) -> MessageRecord:
    """A message of the caller's workspace (and, for a sender-limited key, of its senders)."""
    record = await core.store.messages.get(message_id)
    if (
        record is None
        or record.workspace_id != core.workspace_of(scope)
        or (scope.senders is not None and record.sender_id not in scope.senders)
    ):
        raise WaportError(ErrorCode.MESSAGE_NOT_FOUND, "no such message", "message_id")
    return record


@attrs.frozen
class MessagePage:
    """One page of a listing and the cursor of the next (``None``: this was the last)."""

    messages: Sequence[MessageRecord]
    next_cursor: str | None


async def list_messages(
    core: Core, scope: Scope, params: Mapping[str, str] | MessageQuery
) -> MessagePage:
    """A page of the caller's messages, newest first (``GET /v1/messages``)."""
    query = (
        params
        if isinstance(params, MessageQuery)
        else parse_message_query(
            params, workspace_id=core.workspace_of(scope), senders=scope.senders
        )
    )
    rows = await core.store.messages.page(query)
    shown = rows[: query.limit]
    following = None
    if len(rows) > query.limit:
        following = Cursor.at(shown[-1]).encode()
    return MessagePage(messages=shown, next_cursor=following)


@attrs.frozen
class ConversationRow:
    conversation: Conversation
    window: WindowStatus


@attrs.frozen
class ConversationPage:
    conversations: Sequence[ConversationRow]
    next_cursor: str | None


async def list_conversations(
    core: Core, scope: Scope, params: Mapping[str, str]
) -> ConversationPage:
    """A page of the caller's conversations, latest activity first, with each one's
    window (``GET /v1/conversations``)."""
    query = parse_conversation_query(
        params, workspace_id=core.workspace_of(scope), senders=scope.senders
    )
    found = await core.store.messages.conversations(query)
    shown = found[: query.limit]
    now = core.clock.now()
    rows = []
    for chat in shown:
        last = await core.store.messages.last_inbound(
            query.workspace_id, stored_recipient(chat.contact), chat.sender_id
        )
        rows.append(ConversationRow(conversation=chat, window=window_status(last, now)))
    following = shown[-1].cursor.encode() if len(found) > query.limit else None
    return ConversationPage(conversations=rows, next_cursor=following)


async def get_window(
    core: Core, to: Recipient | str, scope: Scope, *, sender_id: str | None = None
) -> WindowStatus:
    """The window with ``to``: with one sender, or (without one) with the sender a send
    without ``sender_id`` would use, so that the two never disagree."""
    workspace = await core.lookups.workspace(core.workspace_of(scope))
    contact = to if isinstance(to, Recipient) else parse_recipient(to)
    messages = core.store.messages
    include = workspace.template_opens_window
    if sender_id is None and any(s.active for s in await core.lookups.senders(workspace.id)):
        sender_id = (await core.lookups.sender(workspace, None, scope.senders)).id
    if sender_id is not None:
        if scope.senders is not None and sender_id not in scope.senders:
            raise WaportError(ErrorCode.FORBIDDEN, "this API key may not use this sender", "from")
        await core.lookups.sender_of(workspace.id, sender_id, "from")
        last = await messages.last_inbound(
            workspace.id, contact, sender_id, include_templates=include
        )
    elif scope.senders is None:
        last = await messages.last_inbound(workspace.id, contact, None, include_templates=include)
    else:
        times = [
            await messages.last_inbound(workspace.id, contact, s, include_templates=include)
            for s in sorted(scope.senders)
        ]
        last = max((t for t in times if t is not None), default=None)
    return window_status(last, core.clock.now())


async def mark_read(
    core: Core, message_id: str, scope: Scope, *, typing: bool = False
) -> MessageRecord:
    """Mark an inbound message read (blue ticks). Another workspace's message is FORBIDDEN;
    an unknown or outbound one is INVALID_MESSAGE."""
    record = await core.store.messages.get(message_id)
    if record is None:
        raise WaportError(
            ErrorCode.INVALID_MESSAGE, "no inbound message with this id", "message_id"
        )
    if record.workspace_id != core.workspace_of(scope):
        raise WaportError(
            ErrorCode.FORBIDDEN, "the message belongs to another workspace", "message_id"
        )
    if scope.senders is not None and record.sender_id not in scope.senders:
        raise WaportError(
            ErrorCode.FORBIDDEN, "this API key may not act for this message's sender", "message_id"
        )
    if record.direction != Direction.INBOUND or record.provider_message_id is None:
        raise WaportError(
            ErrorCode.INVALID_MESSAGE, "only an inbound message can be marked read", "message_id"
        )
    with anyio.fail_after(core.policy.provider_timeout):
        await core.provider.mark_read(
            record.provider_message_id,
            sender=record.sender_id,
            contact=record.contact,
            typing=typing,
        )
    change = StatusChange(status=MessageStatus.READ, at=core.clock.now())
    results = await core.store.messages.apply_statuses(
        [StatusPatch(message_id=record.id, change=change)]
    )
    return results[0].record or record
