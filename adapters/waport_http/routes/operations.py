"""``/openapi.json``, ``/livez``, ``/healthz`` and ``/metrics``."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

import anyio
import attrs
from aiohttp import web

from waport.domain.errors import WaportError
from waport.service import health
from waport_http import auth
from waport_http.app import PROVIDER_CHECK_PERIOD
from waport_http.metrics import CONTENT_TYPE
from waport_http.middleware import ok
from waport_http.openapi import openapi_document

if TYPE_CHECKING:
    from waport_http.app import Gateway

HEALTH_TIMEOUT: Final = 5.0


async def verdict(check: Callable[[], Awaitable[object]]) -> str:
    """A health check: "ok" when ``check`` answers within ``HEALTH_TIMEOUT``."""
    try:
        with anyio.fail_after(HEALTH_TIMEOUT):
            await check()
    except (WaportError, TimeoutError) as exc:
        return failing(exc)
    return "ok"


def failing(exc: WaportError | TimeoutError) -> str:
    """A health check's verdict on a part that did not answer well."""
    if isinstance(exc, TimeoutError):
        return f"failing: no answer within {HEALTH_TIMEOUT:g} s"
    return f"failing: {exc}"


@attrs.define
class Routes:
    gw: Gateway
    _provider_verdict: tuple[datetime, str] | None = attrs.field(default=None, init=False)
    _provider_checking: anyio.Lock = attrs.field(factory=anyio.Lock, init=False)

    def table(self) -> list[web.RouteDef]:
        return [
            web.get("/openapi.json", self.openapi),
            web.get("/livez", self.livez),
            web.get("/healthz", self.healthz),
            web.get("/metrics", self.metrics),
        ]

    async def openapi(self, request: web.Request) -> web.Response:
        return ok(openapi_document())

    async def livez(self, request: web.Request) -> web.Response:
        """Liveness: the process answers. Asks nothing of the store or the provider, so
        that a provider's outage (which a restart cannot mend) never restarts a gateway
        that is still accepting and queueing messages."""
        return ok({"status": "ok", "data": {}})

    async def healthz(self, request: web.Request) -> web.Response:
        """Readiness: the store answers now, and the provider did at its last check
        (at most ``PROVIDER_CHECK_PERIOD`` ago; probes arriving together share one)."""
        core = self.gw.core
        checks = {
            "store": await verdict(lambda: health.check_store(core)),
            "provider": await self._provider_health(),
        }
        healthy = all(v == "ok" for v in checks.values())
        return ok(
            {"status": "ok" if healthy else "error", "data": checks}, status=200 if healthy else 503
        )

    async def _provider_health(self) -> str:
        core = self.gw.core
        async with self._provider_checking:
            last = self._provider_verdict
            now = core.clock.now()
            # (a clock set back makes the age negative: ask again rather than trust it)
            if last is not None and timedelta(0) <= now - last[0] < PROVIDER_CHECK_PERIOD:
                return last[1]
            answer = await verdict(lambda: health.check_provider(core))
            self._provider_verdict = (core.clock.now(), answer)
            return answer

    async def metrics(self, request: web.Request) -> web.Response:
        """For the ``metrics_token`` or an admin key only."""
        gw = self.gw
        presented = auth.from_headers(request.headers.get("Authorization"), None)
        token = gw.metrics_token
        if not (token and presented and hmac.compare_digest(presented.encode(), token.encode())):
            await gw.authenticate(request, "admin")
        backlog = await health.backlog(gw.core)
        body = gw.metrics.render(backlog.messages, backlog.outbox_pending)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
