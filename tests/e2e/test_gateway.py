"""End to end: a real ``waport serve`` process over real HTTP on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import json
import signal
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
import standardwebhooks

from .conftest import SECRET, Receiver, wait_for, waport_serve, webhook_receiver

pytestmark = pytest.mark.anyio
TO = "255712345678"
HELLO = {"name": "hello_world", "language": "en_US"}


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    key: str | None,
    body: Any = None,
    **headers: str,
) -> tuple[int, Any, Any]:
    all_headers = {**({"Authorization": f"Bearer {key}"} if key else {}), **headers}
    async with http.request(method, url, json=body, headers=all_headers) as r:
        return r.status, await r.json(content_type=None), r.headers


def by_message(receiver: Receiver, message_id: str) -> list[str]:
    return [e["type"] for e in receiver.events() if e["data"]["message_id"] == message_id]


async def test_the_newcomer_flow(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    async with webhook_receiver() as receiver:
        with waport_serve(tmp_path, {"WAPORT_WEBHOOK_URL": receiver.url}) as server:
            api = server.base + "/v1"
            status, body, headers = await call(
                http,
                "POST",
                api + "/messages",
                server.key,
                {"to": "+255 712 345 678", "text": "hello"},
            )
            assert (status, body["error"]["code"]) == (422, "WINDOW_CLOSED")
            assert headers["X-RateLimit-Limit"] == "60"
            status, body, _ = await call(
                http,
                "POST",
                api + "/messages",
                server.key,
                {"to": TO, "sender_id": "sandbox-sender", "template": HELLO},
            )
            assert status in (200, 202)
            template_id = body["data"]["message_id"]
            status, body, _ = await call(
                http, "POST", api + "/sandbox/inbound", server.key, {"from": TO, "text": "hi there"}
            )
            assert status == 200
            inbound_id = body["data"]["message_id"]
            status, body, _ = await call(
                http, "POST", api + "/messages", server.key, {"to": TO, "text": "now it goes"}
            )
            assert (status, body["status"]) == (200, "sent")

            async def read_arrived() -> bool:
                return by_message(receiver, template_id)[-1:] == ["message.read"]

            await wait_for(read_arrived)
            assert by_message(receiver, template_id) == [
                "message.sent",
                "message.delivered",
                "message.read",
            ]
            assert by_message(receiver, inbound_id) == ["message.received"]
            verifier = standardwebhooks.Webhook(SECRET)
            for headers, raw in receiver.deliveries:
                verified = verifier.verify(raw, headers)
                assert verified["id"] == headers["webhook-id"]
            status, body, _ = await call(http, "GET", f"{api}/messages/{template_id}", server.key)
            assert [h["status"] for h in body["data"]["history"]] == [
                "pending",
                "sent",
                "delivered",
                "read",
            ]
            out = server.stop()
        assert "SIGTERM received" in out
        assert "stopped" in out
        # event_loop = auto: uvloop wherever it is installed (a dependency on Linux)
        expected = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
        assert f"event loop: {expected}" in out


async def test_broadcast_idempotency_rate_limits_and_auth(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    with waport_serve(tmp_path) as server:
        api = server.base + "/v1"
        status, _, _ = await call(
            http,
            "POST",
            api + "/sandbox/script",
            server.key,
            {"to": "255700000002", "fail_with": "RECIPIENT_NOT_ON_WHATSAPP"},
        )
        assert status == 200
        recipients = [{"to": f"25570000000{i}"} for i in range(5)]
        status, body, _ = await call(
            http,
            "POST",
            api + "/broadcasts",
            server.key,
            {"template": HELLO, "sender_id": "sandbox-sender", "recipients": recipients},
        )
        assert status == 207
        assert body["data"]["summary"] == {"total": 5, "sent": 4, "pending": 0, "failed": 1}

        # idempotent replay
        first = await call(
            http,
            "POST",
            api + "/messages",
            server.key,
            {"to": TO, "sender_id": "sandbox-sender", "template": HELLO},
            **{"Idempotency-Key": "e2e-1"},
        )
        again = await call(
            http,
            "POST",
            api + "/messages",
            server.key,
            {"sender_id": "sandbox-sender", "template": HELLO, "to": TO},
            **{"Idempotency-Key": "e2e-1"},
        )
        assert first[1] == again[1]
        assert again[2]["Idempotent-Replayed"] == "true"
        # 409 while the first is still running
        await call(http, "POST", api + "/sandbox/script", server.key, {"delay_ms": 1500})
        results: list[tuple[int, Any, Any]] = []

        async def slow() -> None:
            results.append(
                await call(
                    http,
                    "POST",
                    api + "/messages",
                    server.key,
                    {"to": TO, "sender_id": "sandbox-sender", "template": HELLO},
                    **{"Idempotency-Key": "e2e-slow"},
                )
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(slow)
            await anyio.sleep(0.5)
            tg.start_soon(slow)
        codes = sorted(r[0] for r in results)
        assert codes == [200, 409]
        conflict = next(r for r in results if r[0] == 409)
        assert conflict[1]["error"]["code"] == "IDEMPOTENCY_IN_PROGRESS"
        assert int(conflict[2]["Retry-After"]) >= 1

        # a key limited to 2 requests per minute
        status, body, _ = await call(
            http,
            "POST",
            api + "/keys",
            server.key,
            {"scopes": ["messages:read"], "rate_per_minute": 2},
        )
        limited = body["data"]["key"]
        statuses = []
        for _ in range(3):
            status, body, headers = await call(
                http, "GET", api + f"/window-status?to={TO}", limited
            )
            statuses.append((status, headers.get("X-RateLimit-Remaining")))
        assert statuses[:2] == [(200, "1"), (200, "0")]
        assert statuses[2][0] == 429
        assert int(headers["Retry-After"]) >= 1

        # every authentication case
        unknown = "wpk_AAAAAAAAAAAA_" + "B" * 32 + "000000"
        for key in (None, "garbage", unknown, limited[:-1] + ("x" if limited[-1] != "x" else "y")):
            status, body, _ = await call(http, "GET", api + f"/window-status?to={TO}", key)
            assert (status, body["error"]["code"]) == (401, "INVALID_API_KEY")
        status, body, _ = await call(
            http, "POST", api + "/messages", limited, {"to": TO, "text": "x"}
        )
        assert (status, body["error"]["code"]) in (
            (403, "INSUFFICIENT_SCOPE"),
            (429, "RATE_LIMITED"),
        )
        status, body, _ = await call(
            http, "DELETE", api + f"/keys/{limited.split('_')[1]}", server.key
        )
        assert status == 200
        status, body, _ = await call(http, "GET", api + f"/window-status?to={TO}", limited)
        assert (status, body["error"]["code"]) == (401, "INVALID_API_KEY")


async def test_restart_keeps_every_accepted_message_and_owed_webhook(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """SIGKILL the gateway during a burst of sends and webhook deliveries, then restart it."""
    env = {
        "WAPORT_SANDBOX_JOURNAL": str(tmp_path / "sandbox.journal"),
        "WAPORT_PROVIDER_TIMEOUT_SECONDS": "1",
        "WAPORT_ATTEMPT_LEASE_SECONDS": "2",
        "WAPORT_RATE_LIMIT_PER_MINUTE": "100000",
        "WAPORT_WEBHOOK_TIMEOUT_SECONDS": "2",
    }
    accepted: list[str] = []
    async with webhook_receiver(fail_first_of_every=3) as receiver:
        env["WAPORT_WEBHOOK_URL"] = receiver.url
        with waport_serve(tmp_path, env) as server:
            key = server.key

            async def send(i: int) -> None:
                try:
                    status, body, _ = await call(
                        http,
                        "POST",
                        server.base + "/v1/messages",
                        key,
                        {"to": f"2557{i:08d}", "sender_id": "sandbox-sender", "template": HELLO},
                    )
                except aiohttp.ClientError:
                    return
                if status in (200, 202):
                    accepted.append(body["data"]["message_id"])

            async with anyio.create_task_group() as tg:
                for i in range(100):
                    tg.start_soon(send, i)
            settled = len(accepted)

            async def kill_soon() -> None:
                await anyio.sleep(0.15)
                server.process.send_signal(signal.SIGKILL)

            async with anyio.create_task_group() as tg:
                tg.start_soon(kill_soon)
                for i in range(100, 400):
                    tg.start_soon(send, i)
            server.stop(signal.SIGKILL)
            assert settled == 100
        assert accepted
        with waport_serve(tmp_path, env, key=key) as server:

            async def all_sent() -> bool:
                sent = {
                    e["data"]["message_id"]
                    for e in receiver.events()
                    if e["type"] == "message.sent"
                }
                return set(accepted) <= sent

            await wait_for(all_sent, limit=30)
            for message_id in accepted:
                status, body, _ = await call(
                    http, "GET", f"{server.base}/v1/messages/{message_id}", key
                )
                assert status == 200
                assert body["data"]["status"] in ("sent", "delivered", "read")
        journal = [
            line.split("\t")[0] for line in (tmp_path / "sandbox.journal").read_text().splitlines()
        ]
        assert len(journal) == len(set(journal)), "the provider accepted a message twice"
    for headers, raw in receiver.deliveries:
        standardwebhooks.Webhook(SECRET).verify(raw, headers)
        assert json.loads(raw)["id"] == headers["webhook-id"]
