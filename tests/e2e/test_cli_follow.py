"""``waport messages list --follow`` beside a running ``waport serve`` on the same
database: it prints the messages there were, then each new one as it arrives."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import aiohttp
import anyio
import pytest

from .conftest import child_environ, waport_serve

pytestmark = pytest.mark.anyio


async def test_follow_prints_new_messages_as_they_arrive(tmp_path: Path) -> None:
    with waport_serve(tmp_path) as gateway:
        root = {"Authorization": f"Bearer {gateway.key}"}
        async with aiohttp.ClientSession(headers=root) as http:
            inbound = {"from": "255712345678", "text": "before the follow"}
            async with http.post(gateway.base + "/v1/sandbox/inbound", json=inbound) as r:
                assert r.status == 200
            env = {**child_environ(), "WAPORT_DATABASE": str(tmp_path / "waport.db")}
            command = [sys.executable, "-m", "waport_http.cli", "messages", "list", "--follow"]
            follower = await anyio.to_thread.run_sync(
                partial(
                    subprocess.Popen,
                    command,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
            try:
                assert follower.stdout is not None
                first = await anyio.to_thread.run_sync(follower.stdout.readline)
                assert "before the follow" in first
                started = time.monotonic()
                later = {"from": "255712345678", "text": "while following"}
                async with http.post(gateway.base + "/v1/sandbox/inbound", json=later) as r:
                    assert r.status == 200
                with anyio.fail_after(15):
                    arrived = await anyio.to_thread.run_sync(follower.stdout.readline)
                message = json.loads(arrived)
                assert (message["summary"], message["from"]) == ("while following", "255712345678")
                assert time.monotonic() - started < 10
            finally:
                follower.terminate()
                await anyio.to_thread.run_sync(partial(follower.communicate, timeout=15))
        gateway.stop()
