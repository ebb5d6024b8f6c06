"""``/v1/sandbox``: play the customer (a contact writes) and script the next outcomes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import attrs
from aiohttp import web

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.limits import TEXT
from waport.domain.recipients import parse_recipient
from waport.domain.validators import json_int
from waport.service import inbound_media, sandbox
from waport_http.middleware import ok
from waport_http.views import message_view

if TYPE_CHECKING:
    from waport_http.app import Gateway

NUMBERS: Final = (
    ("delay_ms", 0, 600_000, (int, float)),
    ("retry_after", 0, 86_400, (int, float)),
    ("times", 1, 10_000, (int,)),
)


@attrs.frozen
class Routes:
    gw: Gateway

    def table(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/sandbox/inbound", self.inbound),
            web.post("/v1/sandbox/script", self.script),
        ]

    async def inbound(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "messages:send")
        sandbox.controls(gw.core)
        body = await gw.read_object(request, "from", "to_sender", "text", "reply_to", "media")
        named = body.get("to_sender")
        if named is not None and not isinstance(named, str):
            raise WaportError(ErrorCode.VALIDATION_FAILED, "to_sender is a sender id", "to_sender")
        text = body.get("text", "")
        with_media = body.get("media") is not None
        shortest, longest = (0, TEXT.caption) if with_media else (1, TEXT.body)
        if not isinstance(text, str) or not shortest <= len(text) <= longest:
            what = "a caption of" if with_media else ""
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                f"text is {what} {shortest}-{longest} characters".replace("  ", " "),
                "text",
            )
        reply_to = body.get("reply_to")
        if reply_to is not None and (not isinstance(reply_to, str) or not reply_to):
            raise WaportError(ErrorCode.VALIDATION_FAILED, "reply_to is a message id", "reply_to")
        record, _ = await sandbox.inbound(
            gw.core,
            gw.scope(key),
            contact=body.get("from"),
            text=text,
            to_sender=named,
            reply_to=reply_to,
            media=body.get("media"),
        )
        gw.ingested()
        if record is None:
            return ok({"status": "ok", "data": {}})
        view = message_view(record)
        media = await inbound_media.view(gw.core, record)
        if media is not None:
            view["media"] = media
        return ok({"status": "ok", "data": view})

    async def script(self, request: web.Request) -> web.Response:
        gw = self.gw
        key = await gw.authenticate(request, "messages:send")
        sandbox.controls(gw.core)
        body = await gw.read_object(request, "to", "fail_with", "delay_ms", "retry_after", "times")
        to = parse_recipient(body["to"]) if body.get("to") is not None else None
        fail_with = body.get("fail_with")
        if fail_with is not None and (
            not isinstance(fail_with, str) or fail_with not in ErrorCode.__members__
        ):
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                "fail_with is an error code from the catalogue",
                "fail_with",
            )
        numbers = {}
        for name, low, top, kinds in NUMBERS:
            value = body.get(name, low)
            if kinds == (int,):
                value = json_int(value)
            if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= top:
                what = "an integer" if kinds == (int,) else "a number"
                raise WaportError(
                    ErrorCode.VALIDATION_FAILED, f"{name} is {what} from {low} to {top}", name
                )
            numbers[name] = value
        if fail_with is None and not numbers["delay_ms"]:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED, "script a failure (fail_with) or a delay (delay_ms)"
            )
        await sandbox.script(
            gw.core,
            gw.scope(key),
            to=to,
            fail_with=ErrorCode(fail_with) if fail_with else None,
            delay_ms=int(numbers["delay_ms"]),
            retry_after=float(numbers["retry_after"]) or None,
            times=int(numbers["times"]),
        )
        return ok({"status": "ok", "data": {"scripted": True}})
