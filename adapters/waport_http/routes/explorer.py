"""``/docs/``: an interactive reference of ``/openapi.json`` (Swagger UI).

Swagger UI's files come from the ``swagger-ui-py`` package, read once and served by the
gateway (nothing is fetched from the internet); the page and its start script are ours
(``waport_http/explorer/``). "Try it out" sends the key the console signed in with. The
policy is the console's but for inline styles, which Swagger UI sets on its elements
(scripts stay ``'self'`` only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import attrs
from aiohttp import web

from waport_http.routes.console import HEADERS, assets, serve

if TYPE_CHECKING:
    from waport_http.app import Gateway

VENDOR: Final = frozenset({"swagger-ui-bundle.js", "swagger-ui.css"})
EXPLORER_HEADERS: Final = {
    **HEADERS,
    "Content-Security-Policy": HEADERS["Content-Security-Policy"].replace(
        "style-src 'self'", "style-src 'self' 'unsafe-inline'"
    ),
}


def _ours() -> dict[str, tuple[bytes, str]]:
    return assets("waport_http", "explorer")


def _vendor() -> dict[str, tuple[bytes, str]]:
    return assets("swagger_ui", "static", VENDOR)


@attrs.define
class Routes:
    gw: Gateway
    _files: dict[str, tuple[bytes, str]] = attrs.field(factory=_ours, init=False)
    _vendor: dict[str, tuple[bytes, str]] = attrs.field(factory=_vendor, init=False)

    def table(self) -> list[web.RouteDef]:
        return [
            web.get("/docs", self.home),
            web.get("/docs/", self.index),
            web.get("/docs/assets/{name}", self.vendor),
            web.get("/docs/{name}", self.file),
        ]

    async def home(self, request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/docs/"})

    async def index(self, request: web.Request) -> web.Response:
        return serve(self._files, "index.html", EXPLORER_HEADERS)

    async def file(self, request: web.Request) -> web.Response:
        return serve(self._files, request.match_info["name"], EXPLORER_HEADERS)

    async def vendor(self, request: web.Request) -> web.Response:
        return serve(self._vendor, request.match_info["name"], EXPLORER_HEADERS)
