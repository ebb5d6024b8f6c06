"""``/webhooks/{provider}``: the provider's subscription handshake and its signed events.

The provider named in the path must be the gateway's and have the role asked for (a
webhook receiver, a subscription handshake); the signature check runs inside
``parse_webhook``, which a route cannot skip."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
from aiohttp import web

from waport.domain.errors import ErrorCode, WaportError
from waport.ports import Provider
from waport.service.ingest import ingest
from waport_http.middleware import ok

if TYPE_CHECKING:
    from waport_http.app import Gateway


@attrs.frozen
class Routes:
    gw: Gateway

    def table(self) -> list[web.RouteDef]:
        return [
            web.get("/webhooks/{provider}", self.handshake),
            web.post("/webhooks/{provider}", self.events),
        ]

    def _provider(self, request: web.Request) -> Provider:
        provider = self.gw.core.provider
        if request.match_info["provider"] != provider.name:
            raise WaportError(
                ErrorCode.NOT_FOUND, f"this gateway runs the {provider.name} provider"
            )
        return provider

    async def handshake(self, request: web.Request) -> web.Response:
        handshake = self._provider(request).handshake
        if handshake is None:
            raise WaportError(
                ErrorCode.FEATURE_NOT_SUPPORTED, "this provider has no subscription handshake"
            )
        challenge = handshake.verify_subscription(dict(request.query))
        return web.Response(text=challenge, content_type="text/plain")

    async def events(self, request: web.Request) -> web.Response:
        gw = self.gw
        provider = self._provider(request)
        receiver = provider.receiver
        if receiver is None:
            raise WaportError(
                ErrorCode.NOT_FOUND, f"the {provider.name} provider receives no webhooks"
            )
        raw = await gw.webhook_body(request)
        events = receiver.parse_webhook(_ascii_headers(request), raw)
        report = await ingest(gw.core, events)
        gw.ingested()
        gw.metrics.webhook_events(provider.name, len(events))
        return ok({"status": "ok", "data": attrs.asdict(report)})


def _ascii_headers(request: web.Request) -> dict[str, str]:
    """The request's headers a receiver may read: those in ASCII. A signature, a
    timestamp or an id is ASCII; a header of other bytes (aiohttp hands them on as
    surrogate escapes, which no HMAC can encode) counts as missing, so its check
    refuses the request (401) instead of failing on it."""
    return {name: value for name, value in request.headers.items() if value.isascii()}
