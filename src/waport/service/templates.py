"""The template catalogue: sync a sender's templates from the provider, list them."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import anyio

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.records import Sender, Workspace
from waport.domain.templates import TemplateSpec
from waport.service.core import Core, Scope

log = logging.getLogger("waport.service")


async def sync_templates(core: Core, sender_id: str, scope: Scope) -> int:
    """Replace a sender's template catalogue with the provider's."""
    workspace = await core.lookups.workspace(core.workspace_of(scope))
    await core.lookups.sender_of(workspace.id, sender_id, "sender_id")
    if not core.provider.capabilities.templates:
        raise WaportError(ErrorCode.FEATURE_NOT_SUPPORTED, "this provider has no templates")
    specs = await core.provider.list_templates(sender_id)
    await core.store.templates.replace(sender_id, specs)
    core.lookups.invalidate()
    return len(specs)


async def list_templates(
    core: Core, scope: Scope, *, sender_id: str | None = None
) -> Sequence[TemplateSpec]:
    workspace = await core.lookups.workspace(core.workspace_of(scope))
    senders = [s.id for s in await core.store.workspaces.senders(workspace.id)]
    if sender_id is not None:
        if sender_id not in senders:
            raise WaportError(
                ErrorCode.SENDER_NOT_FOUND, "no such sender in the workspace", "sender_id"
            )
        senders = [sender_id]
    return await core.store.templates.list(senders)


async def bootstrap(core: Core, workspace_id: str | None = None) -> Workspace:
    """Make sure the workspace exists, owns the provider's senders, and (by policy) that a
    sender without templates has synced them."""
    workspace_id = workspace_id or core.default_workspace
    workspaces = core.store.workspaces
    workspace = await workspaces.get(workspace_id)
    if workspace is None:
        workspace = Workspace(id=workspace_id, name=workspace_id, messaging_tier=None)
        await workspaces.put(workspace)
    for sender_id in core.provider.senders:
        if await workspaces.get_sender(sender_id) is None:
            await workspaces.put_sender(Sender(id=sender_id, workspace_id=workspace_id))
    if core.policy.sync_templates_on_start and core.provider.capabilities.templates:
        for sender_id in core.provider.senders:
            if not await core.store.templates.list([sender_id]):
                try:
                    with anyio.fail_after(core.policy.provider_timeout):
                        await sync_templates(core, sender_id, Scope(workspace_id=workspace_id))
                except (WaportError, TimeoutError) as exc:
                    log.warning("template sync for %s failed at start: %s", sender_id, exc)
    return workspace


async def sender_ids(core: Core, scope: Scope) -> list[str]:
    """The ids of the workspace's senders the caller may use, in the store's order."""
    senders = await core.store.workspaces.senders(core.workspace_of(scope))
    return [s.id for s in senders if scope.senders is None or s.id in scope.senders]
