"""Account signals: the provider's word on a sender (WAHA's session status, Meta's
number quality and account updates) kept with the sender, shown on
``GET /v1/senders/{id}``, and announced as ``sender.updated``."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from waport.domain import sender_health
from waport.domain.events import SenderUpdate
from waport.domain.records import OutboxEvent, Sender
from waport.service.core import Core


async def apply_sender_updates(core: Core, updates: Sequence[SenderUpdate]) -> int:
    """Keep each word with the senders it concerns; returns how many senders changed."""
    changed = 0
    events: list[OutboxEvent] = []
    workspaces = core.store.workspaces
    for update in updates:
        named: list[Sender] = []
        for sender_id in update.sender_ids:
            found = await workspaces.get_sender(sender_id)
            if found is not None:
                named.append(found)
        for sender in sender_health.concerned(update, named):
            health = sender_health.apply_update(sender.health, update)
            if health is None:
                continue
            after = attrs.evolve(sender, health=health)
            await workspaces.put_sender(after)
            changed += 1
            workspace = await workspaces.get(sender.workspace_id)
            if workspace is not None and workspace.webhook_url:
                events.append(
                    sender_health.sender_event(
                        after, sender.health, url=workspace.webhook_url, queued=core.clock.now()
                    )
                )
    if changed:
        core.lookups.invalidate()
    if events:
        await core.store.outbox.add(events)
    return changed
