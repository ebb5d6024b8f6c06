"""``/v1/contacts``: the workspace's contacts, one contact, changing one (labels,
attributes, name, opt-out), and erasing one (a data-protection request)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
from aiohttp import web

from waport.domain.contacts import CONTACT_FILTERS
from waport.domain.records import Contact
from waport.service import contacts
from waport_http import bodies
from waport_http.middleware import ok
from waport_http.views import page_body

if TYPE_CHECKING:
    from waport_http.app import Gateway


def contact_view(contact: Contact) -> dict[str, Any]:
    return {
        "phone": str(contact.recipient),
        "name": contact.name,
        "labels": list(contact.labels),
        "attributes": dict(contact.metadata),
        "opted_out": contact.opted_out,
        "updated_at": contact.updated_at.isoformat(),
    }


def detail_view(detail: contacts.ContactDetail) -> dict[str, Any]:
    return {
        **contact_view(detail.contact),
        "profile_name": detail.profile_name,
        "first_seen": detail.first_seen,
        "last_seen": detail.last_seen,
        "windows": dict(detail.windows),
        "consent": [
            {
                "opted_out": change.opted_out,
                "at": change.at.isoformat(),
                "source": change.source,
                "message_id": change.message_id,
            }
            for change in detail.contact.consent
        ],
    }


@attrs.frozen
class Routes:
    gw: Gateway

    def table(self) -> list[web.RouteDef]:
        return [
            web.get("/v1/contacts", self.list),
            web.get("/v1/contacts/{phone}", self.get),
            web.patch("/v1/contacts/{phone}", self.patch),
            web.delete("/v1/contacts/{phone}", self.erase),
            web.get("/v1/contacts/{phone}/whatsapp", self.whatsapp),
        ]

    async def list(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "messages:read")
        params = bodies.query(request, *CONTACT_FILTERS)
        page = await contacts.list_contacts(gw.core, gw.scope(key), params)
        return ok(page_body([contact_view(c) for c in page.contacts], page.next_cursor))

    async def get(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "messages:read")
        detail = await contacts.get_contact(gw.core, gw.scope(key), request.match_info["phone"])
        return ok({"status": "ok", "data": detail_view(detail)})

    async def patch(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "messages:send")
        body = await bodies.read_json(request, gw.max_body_bytes)
        detail = await contacts.patch_contact(
            gw.core, gw.scope(key), request.match_info["phone"], body
        )
        return ok({"status": "ok", "data": detail_view(detail)})

    async def erase(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "admin")
        done = await contacts.erase_contact(gw.core, gw.scope(key), request.match_info["phone"])
        return ok(
            {
                "status": "ok",
                "data": {
                    "erased": True,
                    "pseudonym": str(done.pseudonym),
                    "messages": done.messages,
                    "media": done.media,
                },
            }
        )

    async def whatsapp(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "messages:read")
        sender_id = bodies.query(request, "sender_id").get("sender_id") or None
        gw.check_sender(key, sender_id, "sender_id")
        phone, sender, found = await contacts.on_whatsapp(
            gw.core, gw.scope(key), request.match_info["phone"], sender_id
        )
        body = {"phone": str(phone), "sender_id": sender, "on_whatsapp": found}
        return ok({"status": "ok", "data": body})
