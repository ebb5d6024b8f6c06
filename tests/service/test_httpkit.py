"""waport.httpkit: the keep-alive pool, against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trustme
from aiohttp import web

from waport import httpkit
from waport.testing.faults import reset_connection

pytestmark = pytest.mark.anyio
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # the providers' HTTP client is built on asyncio's transports


class Server:
    """A loopback aiohttp server that records the client port of every request."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.peers: list[int] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        self.peers.append(request.transport.get_extra_info("peername")[1])
        return await self.handler(request)


@asynccontextmanager
async def serve(
    handler: Handler, *, keepalive: float = 75.0, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[Server]:
    server = Server(handler)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, keepalive_timeout=keepalive, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "path": request.path_qs,
            "body": body.decode(),
            "auth": request.headers.get("Authorization"),
            "type": request.headers.get("Content-Type"),
        },
        headers={"Retry-After": "7"},
    )


async def test_requests_share_one_kept_alive_connection() -> None:
    async with serve(echo) as server, httpkit.ConnectionPool(server.url) as pool:
        for n in range(20):
            answer = await pool.request(
                "POST",
                f"{server.url}/v25.0/123/messages?n={n}",
                headers=[("Authorization", "Bearer t"), ("Content-Type", "application/json")],
                body=b'{"n": %d}' % n,
                timeout=5,
            )
            assert answer.status == 200
            assert answer.headers["retry-after"] == "7"  # names are lower-case
        assert len(set(server.peers)) == 1
        assert pool.connections == 1
    last = json.loads(answer.body)
    assert last == {
        "method": "POST",
        "path": "/v25.0/123/messages?n=19",
        "body": '{"n": 19}',
        "auth": "Bearer t",
        "type": "application/json",
    }


async def test_get_without_a_body_and_the_bare_origin() -> None:
    async with serve(echo) as server, httpkit.ConnectionPool(server.url + "/base") as pool:
        answer = await pool.request("GET", server.url, timeout=5)
        assert answer.status == 200
        assert b'"path": "/"' in answer.body
        answer = await pool.request("GET", server.url + "?a=1", timeout=5)
        assert b'"path": "/?a=1"' in answer.body


async def test_concurrent_requests_stay_within_max_connections() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.02)
        return web.Response(text="ok")

    async with serve(slow) as server, httpkit.ConnectionPool(server.url, max_connections=3) as pool:
        answers = await asyncio.gather(
            *(pool.request("GET", f"{server.url}/{n}", timeout=5) for n in range(12))
        )
        assert [a.body for a in answers] == [b"ok"] * 12
        assert len(set(server.peers)) == 3
        assert pool.connections == 3


async def test_an_answer_that_closes_the_connection_is_not_reused() -> None:
    async def closing(request: web.Request) -> web.Response:
        return web.Response(text="bye", headers={"Connection": "close"})

    async with serve(closing) as server, httpkit.ConnectionPool(server.url) as pool:
        for _ in range(3):
            assert (await pool.request("GET", server.url + "/", timeout=5)).body == b"bye"
        assert len(set(server.peers)) == 3


async def test_a_chunked_answer_is_read_whole() -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b"one,", b"two,", b"three"):
            await response.write(part)
            await asyncio.sleep(0)
        await response.write_eof()
        return response

    async with serve(chunked) as server, httpkit.ConnectionPool(server.url) as pool:
        for _ in range(2):
            assert (await pool.request("GET", server.url + "/", timeout=5)).body == b"one,two,three"
        assert len(set(server.peers)) == 1


def first_then(first: Handler, then: Handler) -> Handler:
    """A handler that answers its first request with ``first`` and the others with ``then``."""
    calls = 0

    async def handle(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        return await (first if calls == 1 else then)(request)

    return handle


def text(body: str, delay: float = 0.0) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        await asyncio.sleep(delay)
        return web.Response(text=body)

    return handle


async def test_a_late_answer_times_out_and_its_connection_is_dropped() -> None:
    late = first_then(text("late", delay=1.0), text("next"))
    async with serve(late) as server, httpkit.ConnectionPool(server.url, max_connections=1) as pool:
        with pytest.raises(TimeoutError):
            await pool.request("GET", server.url + "/", timeout=0.1)
        answer = await pool.request("GET", server.url + "/", timeout=5)
        assert answer.body == b"next"  # never the late answer of the first request
        assert len(set(server.peers)) == 2


async def test_a_cancelled_request_frees_its_connection() -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        if not started.is_set():
            started.set()
            await release.wait()
        return web.Response(text="ok")

    async with serve(hang) as server, httpkit.ConnectionPool(server.url, max_connections=1) as pool:
        first = asyncio.ensure_future(pool.request("GET", server.url + "/", timeout=30))
        await started.wait()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        assert (await pool.request("GET", server.url + "/", timeout=5)).body == b"ok"
        assert len(set(server.peers)) == 2  # the cancelled one's connection was dropped
        release.set()


async def test_a_waiter_cancelled_in_the_queue_leaves_no_slot_behind() -> None:
    release = asyncio.Event()

    async def gated(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="ok")

    async with (
        serve(gated) as server,
        httpkit.ConnectionPool(server.url, max_connections=1) as pool,
    ):
        holder = asyncio.ensure_future(pool.request("GET", server.url + "/", timeout=30))
        queued = asyncio.ensure_future(pool.request("GET", server.url + "/", timeout=30))
        await asyncio.sleep(0.05)
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        with pytest.raises(TimeoutError):  # waits its turn, within its own deadline
            await pool.request("GET", server.url + "/", timeout=0.05)
        release.set()
        assert (await holder).body == b"ok"
        assert (await pool.request("GET", server.url + "/", timeout=5)).body == b"ok"
        assert pool.connections == 1


async def test_a_reset_connection_is_a_transport_error() -> None:
    async with (
        serve(first_then(reset_connection, text("ok"))) as server,
        httpkit.ConnectionPool(server.url) as pool,
    ):
        with pytest.raises(httpkit.TransportError, match="closed before the answer"):
            await pool.request("POST", server.url + "/", body=b"x", timeout=5)
        assert (await pool.request("POST", server.url + "/", body=b"x", timeout=5)).body == b"ok"


async def test_an_unreachable_origin_fails_at_once_and_frees_its_slot() -> None:
    async with serve(echo) as server:
        url = server.url  # a port nobody listens on once the server is gone
    async with httpkit.ConnectionPool(url, max_connections=1) as pool:
        for _ in range(2):
            with pytest.raises(httpkit.TransportError, match="cannot connect"):
                await pool.request("GET", url + "/", timeout=5)
        assert pool.connections == 0


async def test_an_idle_connection_the_server_closed_is_replaced() -> None:
    async with (
        serve(echo, keepalive=0.05) as server,
        httpkit.ConnectionPool(server.url) as pool,
    ):
        assert (await pool.request("GET", server.url + "/", timeout=5)).status == 200
        await asyncio.sleep(0.3)  # the server closes the idle connection
        assert pool.connections == 0
        assert (await pool.request("GET", server.url + "/", timeout=5)).status == 200
        assert len(set(server.peers)) == 2


async def test_connections_idle_past_keepalive_are_not_reused() -> None:
    async with serve(echo) as server, httpkit.ConnectionPool(server.url, keepalive=0.0) as pool:
        for _ in range(3):
            assert (await pool.request("GET", server.url + "/", timeout=5)).status == 200
        assert len(set(server.peers)) == 3
        assert pool.connections == 1


async def test_an_answer_longer_than_max_body_is_refused() -> None:
    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 5000)

    async with serve(big) as server, httpkit.ConnectionPool(server.url, max_body=4096) as pool:
        with pytest.raises(httpkit.TransportError, match="longer than 4096 bytes"):
            await pool.request("GET", server.url + "/", timeout=5)
        assert pool.connections == 0


async def test_a_malformed_answer_is_a_transport_error() -> None:
    server, url, done = await raw_server(b"NOT HTTP AT ALL\r\n\r\n")
    async with server, httpkit.ConnectionPool(url) as pool:
        with pytest.raises(httpkit.TransportError, match="malformed HTTP answer"):
            await pool.request("GET", url + "/", timeout=5)
        await done.wait()


async def raw_server(answer: bytes) -> tuple[asyncio.Server, str, asyncio.Event]:
    """A TCP server that answers every request head with ``answer`` as it is."""
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed or dropped the connection
        finally:
            writer.close()
            await writer.wait_closed()
            done.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", done


async def test_an_informational_answer_is_skipped() -> None:
    server, url, done = await raw_server(
        b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
    )
    async with server:
        async with httpkit.ConnectionPool(url) as pool:
            for _ in range(2):
                answer = await pool.request("POST", url + "/", body=b"x", timeout=5)
                assert (answer.status, answer.body) == (201, b"ok")
            assert pool.connections == 1
        await done.wait()


async def test_https_with_a_trusted_certificate() -> None:
    ca = trustme.CA()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(served)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    async with serve(echo, ssl_context=served) as server:
        async with httpkit.ConnectionPool(server.url, ssl_context=trusting) as pool:
            for _ in range(3):
                assert (await pool.request("GET", server.url + "/x", timeout=5)).status == 200
            assert len(set(server.peers)) == 1
        async with httpkit.ConnectionPool(server.url) as untrusting:  # the system's CAs only
            with pytest.raises(httpkit.TransportError, match="cannot connect"):
                await untrusting.request("GET", server.url + "/x", timeout=5)


async def test_only_urls_on_the_origin_are_served() -> None:
    pool = httpkit.ConnectionPool("http://127.0.0.1:8080/base")
    assert pool.origin == "http://127.0.0.1:8080"
    assert pool.serves("http://127.0.0.1:8080/v25.0/x")
    assert pool.serves("http://127.0.0.1:8080")
    assert pool.serves("http://127.0.0.1:8080?q=1")
    assert not pool.serves("http://127.0.0.1:80801/x")  # a longer port is another origin
    assert not pool.serves("http://127.0.0.1:8080.evil.example/x")
    assert not pool.serves("https://127.0.0.1:8080/x")
    with pytest.raises(ValueError, match="not on this pool's origin"):
        await pool.request("GET", "http://other.example/x", timeout=1)


@pytest.mark.parametrize(
    ("target", "header"),
    [
        ("/x", ("X-Evil", "a\r\nInjected: yes")),
        ("/x", ("X-Evil\n", "a")),
        ("/x", ("X-Nul", "a\0b")),
        ("/x HTTP/1.1\r\nInjected: yes\r\n\r\nGET /y", ("X-Ok", "a")),
    ],
)
async def test_line_breaks_cannot_smuggle_headers(target: str, header: tuple[str, str]) -> None:
    async with serve(echo) as server, httpkit.ConnectionPool(server.url) as pool:
        with pytest.raises(ValueError, match="line break or NUL"):
            await pool.request("GET", server.url + target, headers=[header], timeout=5)
        assert server.peers == []  # nothing was sent


@pytest.mark.parametrize(
    ("url", "problem"),
    [("ftp://127.0.0.1/", "http\\(s\\) URL"), ("http:///x", "http\\(s\\) URL")],
)
def test_the_pool_needs_an_http_origin(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        httpkit.ConnectionPool(url)
    with pytest.raises(ValueError, match="at least 1"):
        httpkit.ConnectionPool("http://127.0.0.1", max_connections=0)


async def test_a_closed_pool_refuses_requests_and_fails_its_waiters() -> None:
    release = asyncio.Event()

    async def gated(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="ok")

    async with serve(gated) as server:
        async with httpkit.ConnectionPool(server.url, max_connections=1) as pool:
            holder = asyncio.ensure_future(pool.request("GET", server.url + "/", timeout=30))
            queued = asyncio.ensure_future(pool.request("GET", server.url + "/", timeout=30))
            await asyncio.sleep(0.05)
        with pytest.raises(httpkit.TransportError, match="pool is closed"):
            await queued
        release.set()
        assert (await holder).body == b"ok"  # a request under way still ends
        assert pool.connections == 0  # and its connection closes after it
        with pytest.raises(httpkit.TransportError, match="pool is closed"):
            await pool.request("GET", server.url + "/", timeout=5)
