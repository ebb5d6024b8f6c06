"""Four gateway processes on one PostgreSQL database: 10,000 sends and 10 broadcasts
spread over them, one process SIGKILLed midway. Every message is attempted by one
process only (the fake Graph API, shared by all four and unable to de-duplicate, never
sees a message twice) and every message reaches a final status."""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from pathlib import Path

import aiohttp
import anyio
import asyncpg
import attrs
import pytest

from tests.e2e.conftest import free_port, wait_for
from tests.reliability.harness import Fleet, Gateway, delivered_reports, fast_meta_env, until_2xx
from waport_meta import fake as meta_fake
from waport_meta.fake import open_fake_graph

from .conftest import scaled

pytestmark = pytest.mark.anyio

HELLO = {"name": "hello_world", "language": "en_US"}
FINAL = ("sent", "delivered", "read", "failed", "expired")


@attrs.define
class Counts:
    retried: int = 0


async def test_four_gateways_one_database_no_double_sends(
    postgres_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    sends, broadcasts, recipients = scaled(10_000, 10_000), 10, 20
    schema = f"scale{os.getpid()}"
    counts = Counts()
    async with open_fake_graph() as graph, aiohttp.ClientSession() as http:
        env = {
            "WAPORT_DATABASE": postgres_url,
            "WAPORT_POSTGRES_SCHEMA": schema,
            "WAPORT_POSTGRES_POOL_MAX": "10",
            **fast_meta_env(graph.url),
            "WAPORT_DISPATCH_INTERVAL_SECONDS": "0.1",
        }
        gateways: list[Gateway] = []
        fleet = Fleet(gateways)
        request.addfinalizer(fleet.kill_all)  # also when an assertion fails midway
        for i in range(4):
            folder = tmp_path / f"gw{i}"
            folder.mkdir()
            gw = Gateway(folder=folder, env=env, port=free_port())
            await anyio.to_thread.run_sync(gw.start)
            gateways.append(gw)
        key = gateways[0].key
        assert key is not None  # the first process created the admin key
        auth = {"Authorization": f"Bearer {key}"}
        sender = meta_fake.PHONE_NUMBER_ID
        told: dict[str, list[str]] = {}
        numbers = itertools.count()
        killed = gateways[1]
        done = 0

        async def send(n: int) -> None:
            nonlocal done
            body = json.dumps(
                {"to": f"2557{n:08d}", "sender_id": sender, "template": HELLO}
            ).encode()
            answer = await until_2xx(
                http, fleet, counts, "/v1/messages", body, **auth, **{"Idempotency-Key": f"s{n}"}
            )
            told[f"s{n}"] = [answer["data"]["message_id"]]
            done += 1
            if done == sends // 2:
                killed.kill()  # midway, with work in flight

        async def broadcast(n: int) -> None:
            rows = [{"to": f"2558{n:04d}{i:04d}"} for i in range(recipients)]
            body = json.dumps({"sender_id": sender, "template": HELLO, "recipients": rows}).encode()
            answer = await until_2xx(
                http, fleet, counts, "/v1/broadcasts", body, **auth, **{"Idempotency-Key": f"b{n}"}
            )
            told[f"b{n}"] = [row["message_id"] for row in answer["data"]["results"]]

        limiter = anyio.CapacityLimiter(32)

        async def bounded(fn: object, n: int) -> None:
            async with limiter:
                await fn(n)  # type: ignore[operator]

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for n in range(sends):
                tg.start_soon(bounded, send, next(numbers))
                if n % (sends // broadcasts) == 0:
                    tg.start_soon(bounded, broadcast, n)
        elapsed = time.monotonic() - started
        # Meta reports every message it received; what it never received ends OUTCOME_UNKNOWN.
        for raw, headers in delivered_reports(graph, batch=200):
            await until_2xx(http, fleet, counts, "/webhooks/meta", raw, **headers)

        conn = await asyncpg.connect(postgres_url, server_settings={"search_path": schema})
        try:

            async def settled() -> bool:
                open_rows = await conn.fetchval(
                    "SELECT COUNT(*) FROM messages WHERE status <> ALL($1::text[])"
                    " OR attempting_us IS NOT NULL",
                    list(FINAL),
                )
                return bool(open_rows == 0)

            await wait_for(settled, limit=120, interval=0.25)
            rows = {
                r["id"]: (r["status"], r["error"] or "")
                for r in await conn.fetch("SELECT id, status, error FROM messages")
            }
        finally:
            await conn.close()
            fleet.kill_all(signal.SIGTERM)
            cleanup = await asyncpg.connect(postgres_url)
            await cleanup.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await cleanup.close()

    ids = [mid for group in told.values() for mid in group]
    per_message: dict[str, int] = {}
    for payload in graph.sent:
        mid = payload["biz_opaque_callback_data"]
        per_message[mid] = per_message.get(mid, 0) + 1
    # (a message whose history holds a provisional OUTCOME_UNKNOWN that Meta's status
    # webhook later replaced counts as reconciled: only a final failure is unknown)
    unknown = {
        mid
        for mid, (status, error) in rows.items()
        if status == "failed" and "OUTCOME_UNKNOWN" in error
    }
    print(
        "four gateways:",
        json.dumps(
            {
                "messages": len(ids),
                "seconds": round(elapsed, 1),
                "sent_by_provider": len(per_message),
                "outcome_unknown": len(unknown),
                "sent_twice": sum(n > 1 for n in per_message.values()),
                "client_retries": counts.retried,
            }
        ),
    )
    assert len(ids) == len(set(ids)) == sends + broadcasts * recipients == len(rows)
    assert all(n == 1 for n in per_message.values()), "a message was sent twice"
    assert all(status in FINAL for status, _ in rows.values())
    # every message either reached Meta once (and was reconciled by its status webhook)
    # or was claimed by the killed process and never re-sent (OUTCOME_UNKNOWN)
    assert set(per_message) | unknown == set(ids)
    assert not set(per_message) & unknown
    assert all(rows[mid][0] == "delivered" for mid in per_message)
    assert len(unknown) <= 64  # at most what the killed process had in flight
    assert killed.process is not None
    assert killed.process.returncode == -signal.SIGKILL
