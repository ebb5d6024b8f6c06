"""The event stream's limits over HTTP on the test server: past ``streams.limit`` open
streams a gateway answers 429 ``RATE_LIMITED`` with Retry-After, and a closed stream's
slot is free again; the feed closing (shutdown) ends every open stream."""

from __future__ import annotations

import anyio
import pytest

from waport_http.app import Slots

from .conftest import open_harness

pytestmark = pytest.mark.anyio


async def test_past_the_limit_a_stream_is_refused_and_a_closed_one_frees_its_slot() -> None:
    async with open_harness() as gw:
        gw.running.gateway.streams = Slots(1)
        url, headers = gw.base + "/v1/events/stream", gw.headers(gw.admin)
        async with gw.http.get(url, headers=headers) as first:
            assert first.status == 200
            async with gw.http.get(url, headers=headers) as second:
                assert second.status == 429
                assert (await second.json())["error"]["code"] == "RATE_LIMITED"
                assert second.headers["Retry-After"] == "5"
        with anyio.fail_after(5):
            while gw.running.gateway.streams.used:  # noqa: ASYNC110 - the server saw the client leave
                await anyio.sleep(0.01)
        async with gw.http.get(url, headers=headers) as again:
            assert again.status == 200
            assert gw.running.gateway.core.changes is not None
            gw.running.gateway.core.changes.close()
            with anyio.fail_after(5):
                rest = await again.content.read()  # the server ends the stream
            assert b"event: ready" in rest
