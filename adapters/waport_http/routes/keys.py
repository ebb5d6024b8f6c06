"""``/v1/keys``: an admin key issues, lists and revokes the keys of its workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import attrs
from aiohttp import web

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.records import SCOPES
from waport.domain.validators import json_int
from waport.service import keys
from waport_http.middleware import ok
from waport_http.views import key_view

if TYPE_CHECKING:
    from waport_http.app import Gateway

MAX_LABEL: Final = 200


def _scopes(body: dict[str, Any]) -> frozenset[str]:
    scopes = body.get("scopes")
    if (
        not isinstance(scopes, list)
        or not scopes
        or not all(isinstance(s, str) and s in SCOPES for s in scopes)
    ):
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            f"scopes is a non-empty list of {', '.join(sorted(SCOPES))}",
            "scopes",
        )
    return frozenset(scopes)


def _senders(body: dict[str, Any]) -> frozenset[str] | None:
    senders = body.get("senders")
    if senders is None:
        return None
    if not isinstance(senders, list) or not all(isinstance(s, str) for s in senders):
        raise WaportError(ErrorCode.VALIDATION_FAILED, "senders is a list of sender ids", "senders")
    return frozenset(senders)


def _rate(body: dict[str, Any]) -> int | None:
    given = body.get("rate_per_minute")
    if given is None:
        return None
    rate = json_int(given)
    if rate is None or not 1 <= rate <= keys.MAX_RATE_PER_MINUTE:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            f"rate_per_minute is an integer from 1 to {keys.MAX_RATE_PER_MINUTE}",
            "rate_per_minute",
        )
    return rate


@attrs.frozen
class Routes:
    gw: Gateway

    def table(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/keys", self.create),
            web.get("/v1/keys", self.list),
            web.delete("/v1/keys/{key_id}", self.revoke),
        ]

    async def create(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "admin")
        body = await gw.read_object(request, "scopes", "senders", "label", "rate_per_minute")
        scopes, senders, rate = _scopes(body), _senders(body), _rate(body)
        label = body.get("label", "")
        if not isinstance(label, str) or len(label) > MAX_LABEL:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                f"label is a string of at most {MAX_LABEL} characters",
                "label",
            )
        new = await keys.create_key(
            gw.core,
            key,
            scopes=scopes,
            pepper=gw.pepper,
            senders=senders,
            rate_per_minute=rate,
            label=label,
        )
        return ok({"status": "ok", "data": {**key_view(new.record), "key": new.secret}}, status=201)

    async def list(self, request: web.Request) -> web.Response:
        key = await self.gw.authenticate(request, "admin")
        found = await keys.list_keys(self.gw.core, key)
        return ok({"status": "ok", "data": [key_view(k) for k in found]})

    async def revoke(self, request: web.Request) -> web.Response:
        key = await self.gw.authenticate(request, "admin")
        revoked = await keys.revoke_key(self.gw.core, key, request.match_info["key_id"])
        return ok({"status": "ok", "data": key_view(revoked)})
