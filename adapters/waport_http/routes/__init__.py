"""One module per resource; each route parses, calls one use case, renders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from waport_http.routes import (
    broadcasts,
    console,
    contacts,
    conversations,
    events,
    explorer,
    keys,
    media,
    messages,
    operations,
    sandbox,
    templates,
    tenants,
    webhooks,
)

if TYPE_CHECKING:
    from waport_http.app import Gateway


def all_routes(gw: Gateway) -> list[web.RouteDef]:
    return [
        *messages.Routes(gw).table(),
        *broadcasts.Routes(gw).table(),
        *media.Routes(gw).table(),
        *contacts.Routes(gw).table(),
        *conversations.Routes(gw).table(),
        *events.Routes(gw).table(),
        *templates.Routes(gw).table(),
        *keys.Routes(gw).table(),
        *tenants.Routes(gw).table(),
        *sandbox.Routes(gw).table(),
        *webhooks.Routes(gw).table(),
        *operations.Routes(gw).table(),
        *console.Routes(gw).table(),
        *explorer.Routes(gw).table(),
    ]
