"""The HTTP server's own cost per request, without waport: the floor under the gateway.

    python -m benchmarks.floor_server PORT aiohttp|raw

Answers ``POST /v1/messages`` as the gateway's send does on the wire (the JSON body
read and parsed, a JSON answer of the same shape with status 200) and does nothing
else: no auth, validation, store or provider. Two servers, both on uvloop where it is
installed, as the gateway runs:

- ``aiohttp``: an ``aiohttp.web`` application with one route, as waport's gateway is
  built (without its middlewares);
- ``raw``: an ``asyncio.Protocol`` with httptools' parser (the one aiohttp's C parser
  stands beside), keep-alive, nothing but the bytes: what any other Python server
  could at best save against aiohttp.

``GET /healthz`` answers 200 on both, so ``procs.wait_until_up`` finds them.
"""

from __future__ import annotations

import argparse
import asyncio
from itertools import count
from typing import Any

import httptools
import orjson
from aiohttp import web

from benchmarks import run_light

_IDS = count()


def _answer(body: bytes) -> bytes:
    request = orjson.loads(body)
    n = next(_IDS)
    return orjson.dumps(
        {
            "status": "sent",
            "data": {
                "id": f"msg_{n:026d}",
                "to": request.get("to"),
                "status": "sent",
                "provider_message_id": f"wamid.floor{n}",
            },
        }
    )


async def serve_aiohttp(port: int) -> None:
    async def send(request: web.Request) -> web.Response:
        return web.Response(body=_answer(await request.read()), content_type="application/json")

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/v1/messages", send)
    app.router.add_get("/healthz", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


class _Raw(asyncio.Protocol):
    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._body: list[bytes] = []
        self._transport: Any = None  # uvloop's transports are not asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    def on_message_begin(self) -> None:
        self._body = []

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._transport is None:
            return
        if self._parser.get_method() == b"POST":
            payload = _answer(b"".join(self._body))
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        else:
            payload = b"ok"
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
        self._transport.write(head + b"Content-Length: %d\r\n\r\n" % len(payload) + payload)
        if not self._parser.should_keep_alive():
            self._transport.close()


async def serve_raw(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Raw, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


SERVERS = {"aiohttp": serve_aiohttp, "raw": serve_raw}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int)
    parser.add_argument("server", choices=sorted(SERVERS))
    args = parser.parse_args()
    run_light(SERVERS[args.server](args.port))


if __name__ == "__main__":
    main()
