"""``/v1/conversations``: one row per (contact, sender) by latest activity, and one
contact's messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
from aiohttp import web

from waport.domain.listing import CONVERSATION_FILTERS, summary
from waport.service import read
from waport_http import bodies
from waport_http.middleware import ok
from waport_http.routes.messages import document
from waport_http.views import page_body

if TYPE_CHECKING:
    from waport_http.app import Gateway


def conversation_view(row: read.ConversationRow) -> dict[str, Any]:
    chat, window = row.conversation, row.window
    last = chat.last
    return {
        "contact": chat.contact,
        "sender_id": chat.sender_id,
        "unread": chat.unread,
        "last_message": {
            "message_id": last.id,
            "direction": last.direction.value,
            "status": last.status.value,
            "created_at": last.created_at.isoformat(),
            "summary": summary(last),
        },
        "window": {
            "within_window": window.within_window,
            "expires_at": window.expires_at.isoformat() if window.expires_at else None,
        },
    }


@attrs.frozen
class Routes:
    gw: Gateway

    def table(self) -> list[web.RouteDef]:
        return [
            web.get("/v1/conversations", self.list),
            web.get("/v1/conversations/{contact}", self.messages),
        ]

    async def list(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "messages:read")
        params = bodies.query(request, *CONVERSATION_FILTERS)
        page = await read.list_conversations(gw.core, gw.scope(key), params)
        return ok(
            page_body([conversation_view(row) for row in page.conversations], page.next_cursor)
        )

    async def messages(self, request: web.Request) -> web.Response:
        """The contact's messages, newest first (optionally with one sender), each as
        ``GET /v1/messages/{id}`` shows it: a chat view renders them without more calls."""
        gw = self.gw
        key = await gw.authenticate(request, "messages:read")
        params = bodies.query(request, *CONVERSATION_FILTERS)
        params["contact"] = request.match_info["contact"]
        page = await read.list_messages(gw.core, gw.scope(key), params)
        views = [await document(gw.core, record) for record in page.messages]
        return ok(page_body(views, page.next_cursor))
