"""``/v1/templates``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
from aiohttp import web

from waport.domain.errors import ErrorCode, WaportError
from waport.service import templates
from waport_http import bodies
from waport_http.middleware import ok
from waport_http.views import template_view

if TYPE_CHECKING:
    from waport_http.app import Gateway


@attrs.frozen
class Routes:
    gw: Gateway

    def table(self) -> list[web.RouteDef]:
        return [
            web.get("/v1/templates", self.list),
            web.post("/v1/templates", self.create),
            web.post("/v1/templates/sync", self.sync),
            # not /v1/templates/sync: another operation's path (its 405 lists POST alone)
            web.delete("/v1/templates/{name:(?!sync$)[^/]+}", self.delete),
        ]

    async def create(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "templates:write")
        body = await bodies.read_json(request, gw.max_body_bytes)
        spec = await templates.create_template(gw.core, gw.scope(key), body)
        return ok({"status": "ok", "data": template_view(spec)}, status=201)

    async def delete(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "templates:write")
        sender = bodies.query(request, "sender_id").get("sender_id") or None
        gw.check_sender(key, sender, "sender_id")
        name = request.match_info["name"]
        gone = await templates.delete_template(gw.core, gw.scope(key), name, sender)
        return ok({"status": "ok", "data": {"name": name, "deleted": gone}})

    async def list(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "templates:read")
        sender = bodies.query(request, "sender_id").get("sender_id") or None
        gw.check_sender(key, sender, "sender_id")
        specs = await templates.list_templates(gw.core, gw.scope(key), sender_id=sender)
        visible = [s for s in specs if key.may_use(s.sender_id)]
        return ok({"status": "ok", "data": [template_view(s) for s in visible]})

    async def sync(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "templates:write")
        body = await gw.read_object(request, "sender_id", optional=True)
        sender = body.get("sender_id")
        if sender is not None and not isinstance(sender, str):
            raise WaportError(
                ErrorCode.VALIDATION_FAILED, "sender_id must be a string", "sender_id"
            )
        gw.check_sender(key, sender or None, "sender_id")
        scope = gw.scope(key)
        senders = [sender] if sender else await templates.sender_ids(gw.core, scope)
        synced = {s: await templates.sync_templates(gw.core, s, scope) for s in senders}
        return ok({"status": "ok", "data": {"synced": synced}})
