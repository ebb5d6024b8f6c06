"""Workspaces and senders through the API: the operator creates and manages workspaces
(each created with its first admin key, shown once); a workspace's keys see and change
their own workspace and its senders only. A sender is a provider's number, and belongs
to one workspace: its inbound traffic lands there (``ingest``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import anyio
import attrs

from waport.domain import ledger, tenants
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.ledger import LedgerEntry
from waport.domain.listing import page_params
from waport.domain.records import OPERATOR, SCOPES, ApiKey, Sender, Workspace
from waport.service.core import Core, Scope
from waport.service.keys import NewKey, issue
from waport.service.templates import sync_templates

log = logging.getLogger("waport.service")


@attrs.frozen
class CreatedWorkspace:
    workspace: Workspace
    admin_key: NewKey
    """The workspace's first admin key (its secret is shown once)."""


def _not_found(param: str = "workspace_id") -> WaportError:
    return WaportError(ErrorCode.NOT_FOUND, "no such workspace", param)


def is_operator(actor: ApiKey) -> bool:
    return OPERATOR in actor.scopes


async def create_workspace(
    core: Core, actor: ApiKey, body: object, *, pepper: str | None
) -> CreatedWorkspace:
    """``POST /v1/workspaces`` (operator): the workspace and its first admin key."""
    workspace = tenants.new_workspace(body)
    async with core.key_changes:
        if await core.store.workspaces.get(workspace.id) is not None:
            raise WaportError(ErrorCode.WORKSPACE_EXISTS, "a workspace has this id", "id")
        await core.store.workspaces.put(workspace)
    admin = issue(
        workspace_id=workspace.id,
        scopes=SCOPES - {OPERATOR},
        now=core.clock.now(),
        pepper=pepper,
        label="first admin key",
    )
    await core.store.api_keys.add(admin.record)
    core.lookups.invalidate()
    return CreatedWorkspace(workspace=workspace, admin_key=admin)


async def list_workspaces(core: Core, actor: ApiKey) -> Sequence[Workspace]:
    """Every workspace for an operator; one's own otherwise."""
    if is_operator(actor):
        return sorted(await core.store.workspaces.list(), key=lambda w: w.id)
    own = await core.store.workspaces.get(actor.workspace_id)
    return [own] if own is not None else []


async def get_workspace(core: Core, actor: ApiKey, workspace_id: str) -> Workspace:
    """One workspace: any for an operator, one's own otherwise (another's is
    ``NOT_FOUND``, as if it did not exist)."""
    if not is_operator(actor) and workspace_id != actor.workspace_id:
        raise _not_found()
    workspace = await core.store.workspaces.get(workspace_id)
    if workspace is None:
        raise _not_found()
    return workspace


async def patch_workspace(core: Core, actor: ApiKey, workspace_id: str, body: object) -> Workspace:
    """``PATCH /v1/workspaces/{id}``: an operator changes anything; a workspace's admin
    key its own name, webhook, default sender and template window (``FORBIDDEN`` for
    its status or tier)."""
    if actor.senders is not None:
        raise WaportError(
            ErrorCode.FORBIDDEN, "a key limited to some senders may not change the workspace"
        )
    async with core.key_changes:
        workspace = await get_workspace(core, actor, workspace_id)
        changed = tenants.patch_workspace(workspace, body, operator=is_operator(actor))
        if changed.default_sender_id not in (None, workspace.default_sender_id):
            await core.lookups.sender_of(
                workspace.id, changed.default_sender_id, "default_sender_id"
            )
        await core.store.workspaces.put(changed)
    core.lookups.invalidate()
    return changed


# ----------------------------------------------------------------------------- senders


def _visible(actor: ApiKey, sender: Sender | None) -> Sender:
    if sender is None or sender.workspace_id != actor.workspace_id or not actor.may_use(sender.id):
        raise WaportError(ErrorCode.NOT_FOUND, "no such sender in the workspace", "sender_id")
    return sender


def _unlimited(actor: ApiKey) -> None:
    if actor.senders is not None:
        raise WaportError(
            ErrorCode.FORBIDDEN, "a key limited to some senders may not add senders", "id"
        )


async def list_senders(core: Core, actor: ApiKey) -> Sequence[Sender]:
    """The workspace's senders the key may use."""
    found = await core.store.workspaces.senders(actor.workspace_id)
    return [s for s in found if actor.may_use(s.id)]


async def get_sender(core: Core, actor: ApiKey, sender_id: str) -> Sender:
    return _visible(actor, await core.store.workspaces.get_sender(sender_id))


async def add_sender(core: Core, actor: ApiKey, body: object) -> Sender:
    """``POST /v1/senders``: a provider's number joins the workspace. A number of
    another workspace is ``SENDER_IN_USE`` (409); adding one again changes it."""
    _unlimited(actor)
    sender = tenants.new_sender(body, actor.workspace_id)
    async with core.key_changes:
        found = await core.store.workspaces.get_sender(sender.id)
        if found is not None and found.workspace_id != actor.workspace_id:
            raise WaportError(
                ErrorCode.SENDER_IN_USE, "this number belongs to another workspace", "id"
            )
        await core.store.workspaces.put_sender(sender)
    core.lookups.invalidate()
    if core.provider.capabilities.templates and not await core.store.templates.list([sender.id]):
        try:  # its approved templates, as at the gateway's start
            with anyio.fail_after(core.policy.provider_timeout):
                await sync_templates(core, sender.id, Scope(workspace_id=actor.workspace_id))
        except (WaportError, TimeoutError) as exc:
            log.warning("template sync for the new sender %s failed: %s", sender.id, exc)
    return sender


async def patch_sender(core: Core, actor: ApiKey, sender_id: str, body: object) -> Sender:
    """``PATCH /v1/senders/{id}``: its display number, name, or whether it is active."""
    async with core.key_changes:
        sender = await get_sender(core, actor, sender_id)
        changed = tenants.patch_sender(sender, body)
        await core.store.workspaces.put_sender(changed)
    core.lookups.invalidate()
    return changed


async def retire_sender(core: Core, actor: ApiKey, sender_id: str) -> Sender:
    """``DELETE /v1/senders/{id}``: the sender stops sending (``active: false``); its
    messages and templates stay, and ``POST`` brings it back."""
    _unlimited(actor)
    return await patch_sender(core, actor, sender_id, {"active": False})


# ----------------------------------------------------------------------------- billing


@attrs.frozen
class LedgerPage:
    entries: Sequence[LedgerEntry]
    next_cursor: str | None


async def credit(core: Core, actor: ApiKey, workspace_id: str, body: object) -> int:
    """``POST /v1/workspaces/{id}/balance`` (operator): credit (or debit, a negative
    amount) a prepaid workspace with a reason; the new balance."""
    await get_workspace(core, actor, workspace_id)
    fields = body if isinstance(body, Mapping) else {}
    unknown = sorted(set(fields) - {"amount", "reason"}) if isinstance(body, Mapping) else []
    if not isinstance(body, Mapping) or unknown:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            'the body is {"amount": ..., "reason": ...}',
            unknown[0] if unknown else "body",
        )
    entry = ledger.credit(
        core.ids.new_id("led"),
        workspace_id,
        fields.get("amount"),
        fields.get("reason"),
        core.clock.now(),
    )
    balance = await core.store.workspaces.credit(entry)
    core.lookups.invalidate()
    log.info(
        "workspace %s credited %d by %s: %s", workspace_id, entry.amount, actor.id, entry.reason
    )
    return balance


async def ledger_page(
    core: Core, actor: ApiKey, workspace_id: str, params: Mapping[str, str]
) -> LedgerPage:
    """``GET /v1/workspaces/{id}/ledger``: its entries newest first, a page at a time."""
    await get_workspace(core, actor, workspace_id)
    limit = page_params(params, ("limit", "cursor"))
    cursor = params.get("cursor")
    after = ledger.read_cursor(cursor) if cursor else None
    rows = await core.store.workspaces.ledger(workspace_id, after=after, limit=limit)
    shown = rows[:limit]
    following = ledger.entry_cursor(shown[-1]) if len(rows) > limit else None
    return LedgerPage(entries=shown, next_cursor=following)
