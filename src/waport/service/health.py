"""What operators ask of a running service: does the store answer, and what it holds."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from waport.service.core import Core


async def check_store(core: Core) -> None:
    """Raise (``WaportError``) unless the store answers a read now."""
    await core.store.workspaces.list()


async def check_provider(core: Core) -> None:
    """Raise ``PROVIDER_UNAVAILABLE`` when the provider cannot be reached."""
    await core.provider.ping()


@attrs.frozen(kw_only=True)
class Backlog:
    messages: Mapping[str, int]
    """Stored messages per status."""
    outbox_pending: int
    """Outbound webhook events waiting for delivery."""


async def backlog(core: Core) -> Backlog:
    return Backlog(
        messages=await core.store.messages.counts(),
        outbox_pending=await core.store.outbox.pending_count(),
    )
