"""The egress guard: callers' webhook and media URLs never reach loopback, private,
link-local, metadata or reserved addresses unless configuration allows it. A canary
server on 127.0.0.1 counts the connections that get through: zero."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.adapters.http.conftest import open_harness
from waport import ErrorCode, WaportError
from waport.domain.records import OutboxState
from waport_http.egress import CallerUrls, guarded_session, is_public

from .conftest import scaled

BLOCKED = [
    "0.0.0.0",  # noqa: S104 - an address to refuse, not to bind
    "127.0.0.1",
    "127.255.255.254",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "192.0.0.8",
    "192.0.2.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::",  # 6to4 of 192.168.1.1
]
PUBLIC = ["8.8.8.8", "93.184.215.14", "2001:4860:4860::8888", "64:ff9b::808:808", "2002:808:808::"]


@pytest.mark.parametrize("address", BLOCKED)
def test_blocked_addresses(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses(address: str) -> None:
    assert is_public(address)


@given(
    st.sampled_from(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8"]).flatmap(
        lambda net: st.integers(0, ipaddress.ip_network(net).num_addresses - 1).map(
            lambda i, net=net: ipaddress.ip_network(net)[i]
        )
    ),
    st.booleans(),
)
@settings(max_examples=scaled(300, 20_000))
def test_every_private_ipv4_is_blocked_also_when_mapped(ip: Any, mapped: bool) -> None:
    address = f"::ffff:{ip}" if mapped else str(ip)
    assert not is_public(address)


URLS = [
    "http://127.0.0.1/hook",
    "http://[::1]/hook",
    "http://2130706433/hook",  # decimal 127.0.0.1
    "http://0177.0.0.1/hook",  # octal
    "http://0x7f.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:a9fe:a9fe]/hook",
    "http://localhost/hook",  # a name resolving to loopback
    "http://10.0.0.1:8080/hook",
]


@pytest.mark.anyio
@pytest.mark.parametrize("url", URLS)
async def test_guard_refuses_urls_that_resolve_privately(url: str) -> None:
    guard = CallerUrls()
    for kind in ("webhook", "media"):
        with pytest.raises(WaportError) as info:
            await guard.check(url, param="webhook_url", kind=kind)
        assert (info.value.code, info.value.param) == (ErrorCode.URL_NOT_ALLOWED, "webhook_url")
    await CallerUrls(allow_private=True).check(url, param="webhook_url", kind="webhook")
    await CallerUrls(guard_media=False).check(url, param="media.url", kind="media")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "http://user:pw@example.com/x", "http:///x", "file:///etc/passwd"],
)
async def test_guard_refuses_bad_forms_even_when_private_is_allowed(url: str) -> None:
    with pytest.raises(WaportError) as info:
        await CallerUrls(allow_private=True).check(url, param="media.url", kind="media")
    assert info.value.code == ErrorCode.URL_NOT_ALLOWED


@asynccontextmanager
async def canary() -> AsyncIterator[tuple[int, list[int]]]:
    """A TCP server on 127.0.0.1 that counts connections (and answers 200)."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await reader.read(65536)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, connections
    finally:
        server.close()
        await server.wait_closed()


class Rebinding(AbstractResolver):
    """A hostile DNS: the name resolves to loopback when the connection is made."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host="127.0.0.1",
                port=port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        return None


HELLO = {"name": "hello_world", "language": "en_US"}


@pytest.mark.anyio
async def test_callers_urls_never_reach_the_canary_but_the_operators_url_does() -> None:
    async with canary() as (port, connections), open_harness() as gw:
        body = {"to": "255712345678", "sender_id": "sandbox-sender", "template": HELLO}
        for url in (f"http://127.0.0.1:{port}/h", f"http://localhost:{port}/h"):
            status, answer, _ = await gw.post("/v1/messages", {**body, "webhook_url": url})
            assert status == 400
            assert answer["error"]["code"] == "URL_NOT_ALLOWED"
            assert answer["error"]["param"] == "webhook_url"

        # DNS rebinding: public when accepted, loopback when connected.
        async def public_first(host: str, port: int) -> list[str]:
            return ["93.184.215.14"]

        gw.running.messenger.core.url_guard = CallerUrls(resolver=public_first)
        relay = gw.running.relay
        assert relay.guarded_http is not None
        await relay.guarded_http.close()
        relay.guarded_http = guarded_session(allow_private=False, inner=Rebinding())
        status, answer, _ = await gw.post(
            "/v1/messages", {**body, "webhook_url": f"http://rebind.test:{port}/h"}
        )
        assert status == 200, answer
        rebound = answer["data"]["message_id"]
        status, answer, _ = await gw.post(
            "/v1/messages", {**body, "webhook_url": f"http://127.0.0.1:{port}/literal"}
        )
        assert status == 200  # the public-first guard let it in; the relay still refuses
        literal = answer["data"]["message_id"]
        result = await relay.deliver_once()
        assert result.dead == 2
        for message_id in (rebound, literal):
            events = await gw.running.store.outbox.for_message(message_id)
            assert [e.state for e in events] == [OutboxState.DEAD]
            assert events[0].last_error is not None
            assert "URL_NOT_ALLOWED" in events[0].last_error
        assert connections == []

        # The workspace's own webhook URL is the operator's: trusted, delivered.
        ws = await gw.running.store.workspaces.get("default")
        assert ws is not None
        await gw.running.store.workspaces.put(
            attrs.evolve(ws, webhook_url=f"http://127.0.0.1:{port}/operator")
        )
        gw.running.messenger.invalidate()
        await gw.post("/v1/messages", body)
        assert (await relay.deliver_once()).delivered == 1
        assert len(connections) == 1


@pytest.mark.anyio
async def test_allowing_private_urls_lets_a_caller_use_loopback() -> None:
    async with (
        canary() as (port, connections),
        open_harness({"WAPORT_ALLOW_PRIVATE_URLS": "true"}) as gw,
    ):
        status, answer, _ = await gw.post(
            "/v1/messages",
            {
                "to": "255712345678",
                "sender_id": "sandbox-sender",
                "template": HELLO,
                "webhook_url": f"http://127.0.0.1:{port}/h",
            },
        )
        assert status == 200, answer
        assert gw.running.relay.guarded_http is None
        assert (await gw.running.relay.deliver_once()).delivered == 1
        assert connections == [1]


@pytest.mark.anyio
async def test_a_private_host_and_an_unknown_one_are_refused_alike() -> None:
    """The refusal must not tell a caller which internal names exist (a DNS oracle)."""

    async def private(host: str, port: int) -> list[str]:
        return ["10.1.2.3"]

    async def unknown(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    answers = []
    async with open_harness() as gw:
        body = {"to": "255712345678", "sender_id": "sandbox-sender", "template": HELLO}
        for resolver in (private, unknown):
            gw.running.messenger.core.url_guard = CallerUrls(resolver=resolver)
            status, answer, _ = await gw.post(
                "/v1/messages", {**body, "webhook_url": "http://intranet.corp/h"}
            )
            answers.append((status, answer["error"]["code"], answer["error"]["message"]))
    assert answers[0] == answers[1]
    assert answers[0][:2] == (400, "URL_NOT_ALLOWED")
