"""``/v1/workspaces`` and ``/v1/senders``: the operator's workspaces (each created with
its first admin key) and a workspace's senders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
from aiohttp import web

from waport.domain import tenants as rules
from waport.domain.consent import ConsentRules
from waport.domain.ledger import LedgerEntry
from waport.domain.records import OPERATOR, Sender, Workspace
from waport.domain.sender_health import health_view
from waport.service import tenants
from waport_http import bodies
from waport_http.middleware import ok
from waport_http.views import key_view, page_body

if TYPE_CHECKING:
    from waport_http.app import Gateway


def workspace_view(workspace: Workspace) -> dict[str, Any]:
    return {
        "id": workspace.id,
        "name": workspace.name,
        "status": rules.status_of(workspace),
        "messaging_tier": workspace.messaging_tier,
        "template_opens_window": workspace.template_opens_window,
        "default_sender_id": workspace.default_sender_id,
        "webhook_url": workspace.webhook_url,
        "pacing": (
            None
            if workspace.category_pacing is None
            else {k: list(v) for k, v in workspace.category_pacing.items()}
        ),
        "max_sends_per_second": workspace.max_sends_per_second,
        "opt_out": None if workspace.consent is None else _consent_view(workspace.consent),
        "billing": rules.billing_of(workspace),
        "balance": workspace.balance,
    }


def entry_view(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind.value,
        "amount": entry.amount,
        "at": entry.at.isoformat(),
        "message_id": entry.message_id,
        "category": entry.category,
        "reason": entry.reason,
    }


def _consent_view(rules: ConsentRules) -> dict[str, Any]:
    return {
        "keywords": sorted(rules.opt_out_keywords),
        "opt_in_keywords": sorted(rules.opt_in_keywords),
        "blocked_categories": sorted(rules.blocked),
        "reply": rules.reply,
    }


def sender_view(sender: Sender) -> dict[str, Any]:
    return {
        "id": sender.id,
        "workspace_id": sender.workspace_id,
        "phone": sender.phone,
        "name": sender.name,
        "active": sender.active,
        "health": health_view(sender.health),
    }


def _data(value: Any, status: int = 200) -> web.Response:
    return ok({"status": "ok", "data": value}, status=status)


@attrs.frozen
class Routes:
    gw: Gateway

    def table(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/workspaces", self.create_workspace),
            web.get("/v1/workspaces", self.list_workspaces),
            web.get("/v1/workspaces/{workspace_id}", self.get_workspace),
            web.patch("/v1/workspaces/{workspace_id}", self.patch_workspace),
            web.post("/v1/workspaces/{workspace_id}/balance", self.credit),
            web.get("/v1/workspaces/{workspace_id}/ledger", self.ledger),
            web.post("/v1/senders", self.add_sender),
            web.get("/v1/senders", self.list_senders),
            web.get("/v1/senders/{sender_id}", self.get_sender),
            web.patch("/v1/senders/{sender_id}", self.patch_sender),
            web.delete("/v1/senders/{sender_id}", self.retire_sender),
        ]

    async def _body(self, request: web.Request) -> Any:
        return await bodies.read_json(request, self.gw.max_body_bytes)

    async def create_workspace(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, OPERATOR)
        made = await tenants.create_workspace(
            gw.core, key, await self._body(request), pepper=gw.pepper
        )
        admin = {**key_view(made.admin_key.record), "key": made.admin_key.secret}
        return _data({**workspace_view(made.workspace), "admin_key": admin}, 201)

    async def list_workspaces(self, request: web.Request) -> web.Response:
        key = await self.gw.authenticate(request, OPERATOR)
        found = await tenants.list_workspaces(self.gw.core, key)
        return _data([workspace_view(w) for w in found])

    async def get_workspace(self, request: web.Request) -> web.Response:
        key = await self.gw.authenticate(request, "admin")
        workspace_id = request.match_info["workspace_id"]
        return _data(workspace_view(await tenants.get_workspace(self.gw.core, key, workspace_id)))

    async def patch_workspace(self, request: web.Request) -> web.Response:
        key = await self.gw.authenticate(request, "admin")
        workspace_id = request.match_info["workspace_id"]
        body = await self._body(request)
        changed = await tenants.patch_workspace(self.gw.core, key, workspace_id, body)
        return _data(workspace_view(changed))

    async def credit(self, request: web.Request) -> web.Response:
        key = await self.gw.authenticate(request, OPERATOR)
        workspace_id = request.match_info["workspace_id"]
        body = await self._body(request)
        balance = await tenants.credit(self.gw.core, key, workspace_id, body)
        return _data({"workspace_id": workspace_id, "balance": balance})

    async def ledger(self, request: web.Request) -> web.Response:
        key = await self.gw.authenticate(request, "admin")
        params = bodies.query(request, "limit", "cursor")
        page = await tenants.ledger_page(
            self.gw.core, key, request.match_info["workspace_id"], params
        )
        return ok(page_body([entry_view(e) for e in page.entries], page.next_cursor))

    async def add_sender(self, request: web.Request) -> web.Response:
        key = await self.gw.authenticate(request, "admin")
        sender = await tenants.add_sender(self.gw.core, key, await self._body(request))
        return _data(sender_view(sender), 201)

    async def list_senders(self, request: web.Request) -> web.Response:
        key = await self.gw.authenticate(request, "messages:read")
        return _data([sender_view(s) for s in await tenants.list_senders(self.gw.core, key)])

    async def get_sender(self, request: web.Request) -> web.Response:
        key = await self.gw.authenticate(request, "messages:read")
        found = await tenants.get_sender(self.gw.core, key, request.match_info["sender_id"])
        return _data(sender_view(found))

    async def patch_sender(self, request: web.Request) -> web.Response:
        key = await self.gw.authenticate(request, "admin")
        body = await self._body(request)
        changed = await tenants.patch_sender(
            self.gw.core, key, request.match_info["sender_id"], body
        )
        return _data(sender_view(changed))

    async def retire_sender(self, request: web.Request) -> web.Response:
        key = await self.gw.authenticate(request, "admin")
        retired = await tenants.retire_sender(self.gw.core, key, request.match_info["sender_id"])
        return _data(sender_view(retired))
