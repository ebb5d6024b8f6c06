"""The template catalogue: sync a sender's templates from the provider, list them,
create and delete them through the provider, and take its word on their review."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import anyio

from waport.domain import template_drafts, template_events
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.events import TemplateUpdate
from waport.domain.records import OutboxEvent, Sender, Workspace
from waport.domain.templates import TemplateSpec
from waport.ports import TemplateAdmin
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


def _admin(core: Core) -> TemplateAdmin:
    admin = core.provider.template_admin
    if admin is None:
        raise WaportError(
            ErrorCode.FEATURE_NOT_SUPPORTED, "this provider cannot create or delete templates"
        )
    return admin


async def create_template(core: Core, scope: Scope, body: object) -> TemplateSpec:
    """Check the template ``body`` asks for, submit it to the provider for review, and
    keep it in the sender's catalogue with the status the provider gave (``PENDING``,
    until its review arrives as a webhook)."""
    workspace = await core.lookups.workspace(core.workspace_of(scope))
    given = body.get("sender_id") if isinstance(body, Mapping) else None
    if given is not None and not isinstance(given, str):
        raise WaportError(ErrorCode.VALIDATION_FAILED, "sender_id must be a string", "sender_id")
    sender = await core.lookups.sender(workspace, given, scope.senders)
    draft = template_drafts.parse_draft(body, sender.id)
    admin = _admin(core)
    if await core.store.templates.get(sender.id, draft.name, draft.language) is not None:
        raise WaportError(
            ErrorCode.TEMPLATE_EXISTS,
            f"the sender has a template {draft.name!r} in {draft.language} already",
            "name",
        )
    spec = await admin.create_template(draft, sender=sender.id)
    await core.store.templates.put(spec)
    core.lookups.invalidate()
    return spec


async def delete_template(core: Core, scope: Scope, name: str, sender_id: str | None) -> int:
    """Delete the sender's template ``name`` (every language) at the provider and from
    the catalogue; returns how many languages went. A name the catalogue does not hold
    is ``TEMPLATE_NOT_FOUND``, without a call."""
    workspace = await core.lookups.workspace(core.workspace_of(scope))
    sender = await core.lookups.sender(workspace, sender_id, scope.senders)
    admin = _admin(core)
    if not any(s.name == name for s in await core.store.templates.list([sender.id])):
        raise WaportError(ErrorCode.TEMPLATE_NOT_FOUND, "the sender has no such template", "name")
    await admin.delete_template(name, sender=sender.id)
    gone = await core.store.templates.delete(sender.id, name)
    core.lookups.invalidate()
    return gone


async def apply_updates(core: Core, updates: Sequence[TemplateUpdate]) -> tuple[int, int]:
    """Take the provider's word on templates: each catalogue entry it names changes at
    once (a send of a template now ``PAUSED`` is refused before any call), and the
    workspace's webhook is owed ``template.updated``. Returns (changed, unknown): an
    update for a template the catalogue does not hold (made outside waport) waits for
    the next sync."""
    changed = unknown = 0
    events: list[OutboxEvent] = []
    for update in updates:
        for sender_id in update.sender_ids:
            spec = await core.store.templates.get(sender_id, update.name, update.language)
            if spec is None:
                unknown += 1
                continue
            after = template_events.apply_update(spec, update)
            if after is None:
                continue
            await core.store.templates.put(after)
            changed += 1
            sender = await core.lookups.find_sender(sender_id)
            workspace = None
            if sender is not None:
                workspace = await core.lookups.find_workspace(sender.workspace_id)
            if workspace is not None and workspace.webhook_url:
                events.append(
                    template_events.template_event(
                        after,
                        spec,
                        workspace_id=workspace.id,
                        url=workspace.webhook_url,
                        at=update.at,
                        queued=core.clock.now(),
                    )
                )
    if changed:
        core.lookups.invalidate()
    if events:
        await core.store.outbox.add(events)
    return changed, unknown


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
