"""A gateway whose PostgreSQL stops and starts again (issue 30): while the database is
down every send is a quick 503 ``STORE_UNAVAILABLE`` with ``Retry-After`` (never a
hang, never a 500), the gateway reconnects by itself when the database is back, and
every message it accepted, before or after, is sent exactly once.

The database is a private server of this test (it is stopped and started), so it runs
wherever PostgreSQL's binaries are installed: always in CI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import anyio
import pytest

from tests.e2e.conftest import free_port, wait_for
from tests.reliability.harness import Gateway, fast_meta_env
from waport_meta import fake as meta_fake
from waport_meta.fake import open_fake_graph
from waport_postgres import server as pg_server

pytestmark = pytest.mark.anyio

HELLO = {"name": "hello_world", "language": "en_US"}
DOWN_SENDS = 10
QUICK = 15.0  # seconds: a send while the database is down answers within this


@pytest.fixture
def private_postgres() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="waport-pg-restart-"))
    try:
        pg_server.start(folder)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        if os.environ.get("WAPORT_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"no PostgreSQL server can be started here ({exc})")
    try:
        yield folder
    finally:
        pg_server.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


async def test_a_database_restart_is_503_meanwhile_and_heals_by_itself(
    private_postgres: Path, tmp_path: Path
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{(private_postgres / 'port').read_text()}/postgres"
    async with open_fake_graph() as graph, aiohttp.ClientSession() as http:
        env = {
            "WAPORT_DATABASE": url,
            **fast_meta_env(graph.url),
            "WAPORT_DISPATCH_INTERVAL_SECONDS": "0.1",
        }
        gw = Gateway(folder=tmp_path, env=env, port=free_port())
        await anyio.to_thread.run_sync(gw.start)
        assert gw.key is not None
        auth = {"Authorization": f"Bearer {gw.key}"}

        async def send(n: int) -> tuple[int, dict[str, object], float, str | None]:
            body = {"to": f"2557{n:08d}", "sender_id": meta_fake.PHONE_NUMBER_ID, "template": HELLO}
            started = time.monotonic()
            async with http.post(
                gw.base + "/v1/messages",
                data=json.dumps(body),
                headers={**auth, "Content-Type": "application/json", "Idempotency-Key": f"n{n}"},
                timeout=aiohttp.ClientTimeout(total=60),
            ) as r:
                answer = await r.json()
                return r.status, answer, time.monotonic() - started, r.headers.get("Retry-After")

        try:
            accepted: list[str] = []
            for n in range(20):
                status, answer, _, _ = await send(n)
                assert status in (200, 201), answer
                accepted.append(str(answer["data"]["message_id"]))  # type: ignore[index]

            await anyio.to_thread.run_sync(pg_server.stop, private_postgres)
            for n in range(100, 100 + DOWN_SENDS):
                status, answer, took, retry_after = await send(n)
                assert status == 503, answer
                assert answer["error"]["code"] == "STORE_UNAVAILABLE"  # type: ignore[index]
                assert retry_after is not None
                assert took < QUICK, f"a send took {took:.1f} s while the database was down"

            await anyio.to_thread.run_sync(pg_server.start, private_postgres)
            back = time.monotonic()
            healed = None
            while healed is None and time.monotonic() - back < 60:
                status, answer, _, _ = await send(200)
                if status in (200, 201):
                    healed = time.monotonic() - back
                    accepted.append(str(answer["data"]["message_id"]))  # type: ignore[index]
                else:
                    assert status == 503, answer
                    await anyio.sleep(0.2)
            assert healed is not None, "the gateway did not reconnect within 60 s"
            for n in range(300, 320):
                status, answer, _, _ = await send(n)
                assert status in (200, 201), answer
                accepted.append(str(answer["data"]["message_id"]))  # type: ignore[index]

            async def each_sent_once() -> bool:
                seen = [p["biz_opaque_callback_data"] for p in graph.sent]
                return sorted(seen) == sorted(accepted)

            await wait_for(each_sent_once, limit=60, interval=0.2)
        finally:
            gw.kill()
    seen = [p["biz_opaque_callback_data"] for p in graph.sent]
    assert len(seen) == len(set(seen)) == len(accepted) == 41  # nothing lost, nothing twice
    print(
        f"restart: {len(accepted)} accepted, {DOWN_SENDS} refused with 503, healed in {healed:.1f} s"
    )
