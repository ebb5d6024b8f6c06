"""``GET /v1/events/stream``: server-sent events of the messages a key may read.

Each committed change of a message (accepted, attempted, a status, received, erased)
is one ``message`` event whose data is the message as ``GET /v1/messages/{id}`` shows it
and whose id is the change's number in this process's feed (``service.changes``): a
client that reconnects with ``Last-Event-ID`` gets what it missed, or a ``reset`` event
when that is no longer kept (reload the lists, then go on). A comment line every
``KEEPALIVE`` seconds keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Final

import attrs
from aiohttp import web

from waport.domain.errors import ErrorCode, WaportError
from waport.service.changes import Change, Gap, visible
from waport_http import bodies
from waport_http.middleware import dumps, stamp
from waport_http.routes.messages import document

if TYPE_CHECKING:
    from waport_http.app import Gateway

KEEPALIVE: Final = 15.0
RETRY_MS: Final = 2000


def resume_point(header: str | None, last: int) -> int | None:
    """Where a stream starts: after ``Last-Event-ID`` when given, else now; ``None``
    when that id is not of this feed (the gateway restarted since): reload."""
    if header is None:
        return last
    text = header.strip()
    if not text.isdigit() or len(text) > 18:  # noqa: PLR2004 - fits an int64
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, "Last-Event-ID must be an event id", "Last-Event-ID"
        )
    return int(text) if int(text) <= last else None


def frame(event: str, data: str, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n".encode()


@attrs.frozen
class Routes:
    gw: Gateway

    def table(self) -> list[web.RouteDef]:
        return [web.get("/v1/events/stream", self.stream)]

    async def stream(self, request: web.Request) -> web.StreamResponse:
        gw = self.gw
        key = await gw.authenticate(request, "messages:read")
        bodies.query(request)
        changes = gw.core.changes
        if changes is None:
            raise WaportError(ErrorCode.FEATURE_NOT_SUPPORTED, "this gateway keeps no event feed")
        start = resume_point(request.headers.get("Last-Event-ID"), changes.last)
        cursor = changes.last if start is None else start
        with gw.streams.slot():
            response = web.StreamResponse(
                headers={
                    "Content-Type": "text/event-stream",
                    "Cache-Control": "no-store",
                    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
                }
            )
            stamp(request, response, gw.clock)
            await response.prepare(request)
            first = frame("ready" if start is not None else "reset", "{}", cursor)
            await response.write(f"retry: {RETRY_MS}\n".encode() + first)
            workspace, senders = gw.core.workspace_of(gw.scope(key)), key.senders
            with contextlib.suppress(ConnectionResetError):  # the client left
                await _follow(gw, response, cursor, workspace, senders)
            return response


async def _follow(
    gw: Gateway,
    response: web.StreamResponse,
    cursor: int,
    workspace: str,
    senders: frozenset[str] | None,
) -> None:
    """Write the changes after ``cursor`` the key sees, as they come, until the feed closes."""
    changes = gw.core.changes
    assert changes is not None  # noqa: S101 - the route checked
    while not changes.closed:
        found = changes.after(cursor)
        if isinstance(found, Gap):
            cursor = found.seq
            await response.write(frame("reset", "{}", cursor))
            continue
        if not found:
            before = cursor
            await changes.wait(cursor, within=KEEPALIVE)
            if changes.last == before and not changes.closed:
                await response.write(b": keepalive\n\n")
            continue
        cursor = found[-1].seq
        for message_id, seq in _latest(found, workspace, senders).items():
            record = await gw.core.store.messages.get(message_id)
            if record is not None:
                data = await document(gw.core, record)
                await response.write(frame("message", dumps(data), seq))


def _latest(found: list[Change], workspace: str, senders: frozenset[str] | None) -> dict[str, int]:
    """Each visible message once, with the number of its last change, in that order."""
    latest: dict[str, int] = {}
    for change in found:
        if visible(change, workspace, senders):
            latest.pop(change.message_id, None)
            latest[change.message_id] = change.seq
    return latest
