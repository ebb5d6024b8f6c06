"""The reliability page's example: a receiver of waport's webhooks with replay protection."""

from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from waport_http import Verdict, WebhookVerifier, sign

# --8<-- [start:receiver]
HANDLED = web.AppKey("handled", list[dict[str, object]])


def receiver_app(secret: str) -> web.Application:
    verifier = WebhookVerifier([secret])  # several secrets while you rotate
    handled: list[dict[str, object]] = []

    async def on_event(request: web.Request) -> web.Response:
        body = await request.read()
        verdict = verifier.check(request.headers, body, now=datetime.now(UTC))
        if verdict is Verdict.BAD_SIGNATURE:
            return web.Response(status=401)
        if verdict is Verdict.STALE:
            return web.Response(status=400)
        if verdict is Verdict.OK:  # DUPLICATE: already handled, just acknowledge
            handled.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app[HANDLED] = handled
    app.router.add_post("/waport-events", on_event)
    return app


# --8<-- [end:receiver]


@pytest.mark.anyio
async def test_the_receiver_handles_each_event_once() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    app = receiver_app(secret)
    body = b'{"type":"message.delivered","data":{"message_id":"msg_1"}}'
    stamp = int(datetime.now(UTC).timestamp())
    headers = {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(secret, "evt_1", stamp, body),
    }
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for _ in range(3):  # a retry, and a replay
            r = await client.post("/waport-events", data=body, headers=headers)
            assert r.status == 204
        forged = {**headers, "webhook-signature": "v1,AAAA"}
        assert (await client.post("/waport-events", data=body, headers=forged)).status == 401
    assert len(app[HANDLED]) == 1
