"""``/v1/broadcasts``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
from aiohttp import web

from waport.domain.errors import ErrorCode, WaportError
from waport.service import IdempotencyClaim, broadcast
from waport_http import bodies
from waport_http.app import note_preference
from waport_http.middleware import ok
from waport_http.routes.messages import resumed
from waport_http.views import broadcast_envelope, broadcast_view

if TYPE_CHECKING:
    from waport_http.app import Gateway


@attrs.frozen
class Routes:
    gw: Gateway

    def table(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/broadcasts", self.post),
            web.get("/v1/broadcasts/{broadcast_id}", self.get),
        ]

    async def post(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "broadcasts:send")
        body = await bodies.read_json(request, gw.max_body_bytes)
        queue_only = bodies.prefers_async(request)

        async def run(claim: IdempotencyClaim | None) -> tuple[int, dict[str, Any]]:
            result = await broadcast.broadcast(
                gw.core, body, gw.scope(key, claim), attempt_rows=False if queue_only else None
            )
            return broadcast_envelope(result)

        response = await gw.idempotent(
            request, key, "POST /v1/broadcasts", body, run=run, resume=resumed
        )
        note_preference(response, queue_only)
        return response

    async def get(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "messages:read")
        result = await broadcast.get_broadcast(
            gw.core, request.match_info["broadcast_id"], gw.scope(key)
        )
        if not all(key.may_use(row.sender_id) for row in result.rows):
            raise WaportError(ErrorCode.BROADCAST_NOT_FOUND, "no such broadcast", "broadcast_id")
        return ok({"status": "ok", "data": broadcast_view(result)})
