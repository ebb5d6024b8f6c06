"""``/v1/messages`` and ``/v1/window-status``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
from aiohttp import web

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.listing import FILTERS
from waport.domain.recipients import parse_recipient
from waport.domain.records import ApiKey, MessageRecord
from waport.service import IdempotencyClaim, inbound_media, read, replay, send
from waport.service.core import BroadcastResult, Core
from waport_http import bodies
from waport_http.app import note_preference
from waport_http.middleware import RID_ATTR, error_payload, ok
from waport_http.views import (
    broadcast_envelope,
    message_view,
    page_body,
    send_envelope,
    window_view,
)

if TYPE_CHECKING:
    from waport_http.app import Gateway


def resumed(earlier: replay.Earlier) -> tuple[int, dict[str, Any]]:
    """The answer of a first request that died after storing its rows, from the rows:
    the same shape as the answer it would have given."""
    rows = earlier.rows
    if rows and rows[0].broadcast_id is not None:
        return broadcast_envelope(
            BroadcastResult(broadcast_id=rows[0].broadcast_id, rows=tuple(rows))
        )
    if len(rows) == 1:
        return send_envelope(rows[0])
    return 202, {"status": "pending", "data": {"message_ids": [row.id for row in rows]}}


async def document(core: Core, record: MessageRecord) -> dict[str, Any]:
    """A message as ``GET /v1/messages/{id}`` shows it: history, and its media's state."""
    view = message_view(record, history=True)
    media = await inbound_media.view(core, record)
    if media is not None:
        view["media"] = media
    return view


@attrs.frozen
class Routes:
    gw: Gateway

    def table(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/messages", self.post),
            web.get("/v1/messages", self.list),
            web.get("/v1/messages/{message_id}", self.get),
            web.post("/v1/messages/{message_id}/read", self.mark_read),
            web.get("/v1/window-status", self.window),
        ]

    async def post(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "messages:send")
        if request.content_type != "multipart/form-data":
            body = await bodies.read_json(request, gw.max_message_bytes)
            return await self._post(request, key, body, body)
        # files stream into the media store as they arrive; if no message ends up
        # referencing them (a refusal, a replayed retry), they are deleted again
        async with gw.uploads(request, key) as (form, kept):
            response = await self._post(request, key, form.body, form.fingerprint())
            kept.set(response.headers.get("Idempotent-Replayed") != "true")
            return response

    async def _post(
        self, request: web.Request, key: ApiKey, body: Any, fingerprint: Any
    ) -> web.Response:
        gw = self.gw
        queue_only = bodies.prefers_async(request)

        async def run(claim: IdempotencyClaim | None) -> tuple[int, dict[str, Any]]:
            result = await send.send(
                gw.core, body, gw.scope(key, claim), attempt=False if queue_only else None
            )
            record = result.message
            gw.metrics.accepted(record.message.mode if record.message else "?")
            if record.status.terminal and record.error is not None:
                err = WaportError(record.error.code, record.error.message)
                return err.http_status, error_payload(err, request[RID_ATTR], message_view(record))
            return send_envelope(record)

        response = await gw.idempotent(
            request, key, "POST /v1/messages", fingerprint, run=run, resume=resumed
        )
        note_preference(response, queue_only)
        return response

    async def list(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "messages:read")
        params = bodies.query(request, *FILTERS)
        page = await read.list_messages(gw.core, gw.scope(key), params)
        return ok(page_body([message_view(record) for record in page.messages], page.next_cursor))

    async def get(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "messages:read")
        record = await read.get_message(gw.core, request.match_info["message_id"], gw.scope(key))
        return ok({"status": "ok", "data": await document(gw.core, record)})

    async def mark_read(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "messages:send")
        body = await bodies.read_object(request, gw.max_body_bytes, "typing", optional=True)
        typing = body.get("typing", False)
        if not isinstance(typing, bool):
            raise WaportError(ErrorCode.VALIDATION_FAILED, "typing is true or false", "typing")
        record = await read.mark_read(
            gw.core, request.match_info["message_id"], gw.scope(key), typing=typing
        )
        return ok({"status": "ok", "data": message_view(record)})

    async def window(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "messages:read")
        query = bodies.query(request, "to", "from")
        to = query.get("to")
        if not to:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED, "the to query parameter is required", "to"
            )
        answer = await read.get_window(
            gw.core, parse_recipient(to), gw.scope(key), sender_id=query.get("from") or None
        )
        return ok({"status": "ok", "data": window_view(answer)})
