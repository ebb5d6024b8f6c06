"""``/console/``: the web console, static files shipped inside the package.

The console is plain ES modules (``waport_http/console/``, no build step) that speak the
public API with the key the user signs in with, so these routes need no key: they serve
the files (read once, at start) and ``settings.json`` (whether the provider is the
sandbox, so the console shows the customer's phone). Every answer carries a strict
Content-Security-Policy: scripts and styles from this origin only (no inline script),
no framing, no plugins, images from this origin or blob URLs (media fetched with the key).
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Final

import attrs
from aiohttp import web

from waport.domain.errors import ErrorCode, WaportError
from waport_http.middleware import ok

if TYPE_CHECKING:
    from waport_http.app import Gateway

POLICY: Final = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS: Final = {
    "Content-Security-Policy": POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


def assets(
    package: str, folder: str, names: frozenset[str] | None = None
) -> dict[str, tuple[bytes, str]]:
    """The files of ``package/folder`` (only ``names`` when given), with their types."""
    found: dict[str, tuple[bytes, str]] = {}
    for entry in resources.files(package).joinpath(folder).iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        wanted = names is None or entry.name in names
        if entry.is_file() and suffix in TYPES and wanted:
            found[entry.name] = (entry.read_bytes(), TYPES[suffix])
    return found


def serve(files: dict[str, tuple[bytes, str]], name: str, headers: dict[str, str]) -> web.Response:
    found = files.get(name)
    if found is None:
        raise WaportError(ErrorCode.NOT_FOUND, "no such file")
    body, content_type = found
    return web.Response(body=body, headers={**headers, "Content-Type": content_type})


def _console() -> dict[str, tuple[bytes, str]]:
    return assets("waport_http", "console")


@attrs.define
class Routes:
    gw: Gateway
    _files: dict[str, tuple[bytes, str]] = attrs.field(factory=_console, init=False)

    def table(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.home),
            web.get("/console", self.home),
            web.get("/console/", self.index),
            web.get("/console/settings.json", self.settings),
            web.get("/console/{name}", self.file),
        ]

    async def home(self, request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/console/"})

    async def index(self, request: web.Request) -> web.Response:
        return self._serve("index.html")

    async def file(self, request: web.Request) -> web.Response:
        return self._serve(request.match_info["name"])

    async def settings(self, request: web.Request) -> web.Response:
        provider = self.gw.core.provider
        response = ok({"provider": provider.name, "sandbox": provider.sandbox is not None})
        response.headers.update(HEADERS)
        return response

    def _serve(self, name: str) -> web.Response:
        return serve(self._files, name, HEADERS)
