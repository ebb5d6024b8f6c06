"""A small HTTP/1.1 keep-alive client for a provider's hot path.

``aiohttp.ClientSession`` does much per request that a provider calling one API does
not need: URL objects, a cookie jar, redirects, tracing hooks, multidict headers, a
response object with a stream. On the library path that is most of the Meta adapter's
cost (docs/performance.md). :class:`ConnectionPool` does only this: requests with a
body of bytes to one origin (``http`` or ``https``), over persistent connections, one
request at a time on each, answers parsed by ``httptools`` (llhttp, the parser of
Node.js and uvicorn) and read whole. No redirects, cookies, proxies or compression,
and an answer must say its length (``Content-Length`` or chunked, as every JSON API
does; one that ends only by closing the connection is a ``TransportError``). Whatever
needs more (a multipart upload, a URL on another host) keeps using aiohttp.

    async with ConnectionPool("https://graph.facebook.com") as pool:
        answer = await pool.request("POST", url, headers=[...], body=b"{...}", timeout=20)

Failures are :class:`TransportError` (cannot connect, connection lost, a malformed
or oversized answer) and ``TimeoutError`` (no whole answer within ``timeout`` seconds,
connecting included). A request that fails closes its connection, so a late answer can
never be read as the answer to the next request; the pool is not retried by itself,
because a provider's send is not idempotent (the caller decides, as with aiohttp).
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import attrs
import httptools

from waport.domain.errors import ErrorCode, WaportError

if TYPE_CHECKING:
    import aiohttp

    from waport.plugins import PluginContext

__all__ = ["ConnectionPool", "HttpAnswer", "TransportError"]

DEFAULT_MAX_CONNECTIONS: Final = 100
"""As aiohttp's connector: at most this many connections open to the origin at once."""
DEFAULT_KEEPALIVE: Final = 15.0
"""Seconds an idle connection is kept for reuse (aiohttp's default as well)."""
DEFAULT_MAX_BODY: Final = 16 * 1024 * 1024
"""Bytes of answer body read at most; a longer answer is a ``TransportError``."""


class TransportError(Exception):
    """The request did not get a whole, well-formed HTTP answer (the message says why)."""


@attrs.frozen
class HttpAnswer:
    """An HTTP answer read whole. Header names are lower-case; a repeated one keeps its last value."""

    status: int
    headers: dict[str, str]
    body: bytes


class _Connection(asyncio.Protocol):
    """One keep-alive connection: a transport, a parser and the request it is waiting on."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.holds_slot = True
        """Counted in the pool's open connections until it is discarded."""
        self.idle_since = 0.0
        self.waiter: asyncio.Future[HttpAnswer] | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._error: TransportError | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport here

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # nothing was asked: the stream is out of step, drop it
            self.abort(TransportError("the server sent data no request asked for"))
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.abort(self._error or TransportError(f"malformed HTTP answer: {exc}"))

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(TransportError("the connection closed before the answer was complete"))
        self.pool._lost(self)

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self.pool.max_body:
            self._error = TransportError(f"the answer is longer than {self.pool.max_body} bytes")
            raise self._error  # stops the parser; data_received aborts
        self._body.append(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        answer = HttpAnswer(status=status, headers=self._headers, body=b"".join(self._body))
        self._headers, self._body, self._size = {}, [], 0
        if status < 200:  # noqa: PLR2004 - an informational answer (103 Early Hints): the real one follows
            return
        if not self._parser.should_keep_alive():
            self.closed = True  # the server will close it: never handed out again
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    # the pool's side
    def send(self, data: bytes, waiter: asyncio.Future[HttpAnswer]) -> None:
        self.waiter = waiter
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():
            self._fail(TransportError("the connection closed before the request was sent"))
            return
        transport.write(data)

    def expire(self) -> None:
        """The request's deadline passed: fail it and drop the connection."""
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(TimeoutError())
        self.abort(None)

    def abort(self, error: TransportError | None) -> None:
        self.closed = True
        if error is not None:
            self._fail(error)
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, error: TransportError) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)


class ConnectionPool:
    """Keep-alive connections to one origin; an async context manager that closes them
    on exit. Building one checks its arguments (``ValueError``) and does no I/O."""

    def __init__(
        self,
        base_url: str,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        keepalive: float = DEFAULT_KEEPALIVE,
        max_body: int = DEFAULT_MAX_BODY,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the pool needs an http(s) URL with a host, got {base_url!r}")
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        """``scheme://host[:port]``, as written in ``base_url``: the URLs this pool serves start with it."""
        self.max_connections = max_connections
        self.keepalive = keepalive
        self.max_body = max_body
        self._ssl = (
            (ssl_context or ssl.create_default_context()) if parts.scheme == "https" else None
        )
        self._host_line = f"Host: {parts.netloc}\r\n"
        self._idle: list[_Connection] = []
        self._open = 0  # connections open or being opened
        self._waiting: collections.deque[asyncio.Future[_Connection | None]] = collections.deque()
        self._closed = False

    def serves(self, url: str) -> bool:
        """Whether ``url`` is on this pool's origin (so :meth:`request` may take it)."""
        origin = self.origin
        return url.startswith(origin) and (len(url) == len(origin) or url[len(origin)] in "/?")

    @property
    def connections(self) -> int:
        """Connections open (or being opened) now."""
        return self._open

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        timeout: float,  # noqa: ASYNC109 - one timer on the connection, cheaper than a scope
    ) -> HttpAnswer:
        """Send one request to ``url`` (on :attr:`origin`) and read its whole answer."""
        if not self.serves(url):
            raise ValueError(f"{url!r} is not on this pool's origin {self.origin}")
        target = url[len(self.origin) :] or "/"
        if target[0] == "?":
            target = "/" + target
        lines = [f"{method} {target} HTTP/1.1\r\n", self._host_line]
        lines.extend(f"{name}: {value}\r\n" for name, value in headers)
        lines.append(f"Content-Length: {len(body)}\r\n\r\n")
        head = "".join(lines)
        breaks = len(lines) + 1  # each line's own, and the blank line's
        if head.count("\n") != breaks or head.count("\r") != breaks or "\0" in head:
            raise ValueError("the request line or a header holds a line break or NUL")
        data = head.encode("latin-1") + body
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        connection = await self._acquire(loop, deadline)
        waiter: asyncio.Future[HttpAnswer] = loop.create_future()
        timer = loop.call_at(deadline, connection.expire)
        answered = False
        try:
            connection.send(data, waiter)
            answer = await waiter
            answered = True
        finally:
            timer.cancel()
            if not answered:
                connection.abort(None)  # failed or cancelled: its stream is out of step
            self._release(connection, loop)
        return answer

    # ---------------------------------------------------------------- connections

    async def _acquire(self, loop: asyncio.AbstractEventLoop, deadline: float) -> _Connection:
        if self._closed:
            raise TransportError("the connection pool is closed")
        idle = self._idle
        while idle:
            connection = idle.pop()
            if not connection.closed and loop.time() - connection.idle_since < self.keepalive:
                return connection
            self._discard(connection)
        if self._open >= self.max_connections:
            handed = await self._wait_for_turn(loop, deadline)
            if handed is not None:
                return handed
        else:
            self._open += 1
        connected = False
        try:
            async with asyncio.timeout_at(deadline):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self),
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self._ssl is not None else None,
                )
            connected = True
        except TimeoutError:  # an OSError too, but it keeps its meaning: out of time
            raise
        except OSError as exc:
            raise TransportError(f"cannot connect to {self.origin}: {exc}") from exc
        finally:
            if not connected:  # refused, timed out or cancelled: the slot is free again
                self._hand_over(None)
        return connection

    async def _wait_for_turn(
        self, loop: asyncio.AbstractEventLoop, deadline: float
    ) -> _Connection | None:
        """Wait until a connection is handed over, or a slot to open one (None) is."""
        turn: asyncio.Future[_Connection | None] = loop.create_future()
        self._waiting.append(turn)
        took = False
        try:
            async with asyncio.timeout_at(deadline):
                handed = await turn
            took = True
        finally:
            if not took:
                if turn.done() and not turn.cancelled() and turn.exception() is None:
                    self._hand_over(turn.result())  # given, then cancelled: pass it on
                else:
                    turn.cancel()
        return handed

    def _release(self, connection: _Connection, loop: asyncio.AbstractEventLoop) -> None:
        if connection.closed or self._closed:
            self._discard(connection)
            return
        connection.idle_since = loop.time()
        self._hand_over(connection)

    def _hand_over(self, connection: _Connection | None) -> None:
        """Give a connection, or the slot of one (None: the waiter opens its own), to the
        first live waiter; with nobody waiting keep the connection idle, or free the slot."""
        waiting = self._waiting
        while waiting:
            turn = waiting.popleft()
            if not turn.done():
                turn.set_result(connection)
                return
        if connection is None:
            self._open -= 1
        else:
            self._idle.append(connection)

    def _discard(self, connection: _Connection) -> None:
        if connection.transport is not None and not connection.transport.is_closing():
            connection.transport.close()
        if connection.holds_slot:
            connection.holds_slot = False
            self._hand_over(None)

    def _lost(self, connection: _Connection) -> None:
        """A connection closed under us: an idle one leaves the pool now."""
        if connection in self._idle:
            self._idle.remove(connection)
            self._discard(connection)

    async def __aenter__(self) -> ConnectionPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the idle connections; those in use close when their request ends."""
        self._closed = True
        while self._idle:
            self._discard(self._idle.pop())
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_exception(TransportError("the connection pool is closed"))


@asynccontextmanager
async def session_for(ctx: PluginContext) -> AsyncIterator[aiohttp.ClientSession]:
    """The application's shared session (``ctx.http``), or where there is none (a plugin
    used on its own) a session of the plugin's own, closed when the block ends."""
    if ctx.http is not None:
        yield ctx.http
        return
    import aiohttp  # here: only plugins that speak HTTP pay for the import

    async with aiohttp.ClientSession() as own:
        yield own


DOWNLOAD_CHUNK: Final = 64 * 1024


@asynccontextmanager
async def open_download(
    http: aiohttp.ClientSession,
    url: str,
    *,
    headers: dict[str, str],
    read_timeout: float,
    provider: str,
) -> AsyncIterator[tuple[str | None, AsyncIterator[bytes]]]:
    """GET ``url`` and hand over its ``Content-Type`` and body in chunks, read inside
    the block (never whole). No redirects are followed; ``read_timeout`` bounds connecting
    and each read, not the whole transfer (a large file may take long). A 404 is
    ``MEDIA_NOT_FOUND``; any other answer than 200, or a transport failure, is
    ``PROVIDER_UNAVAILABLE``."""
    import aiohttp  # here: only plugins that download pay for the import

    def unavailable(message: str) -> WaportError:
        return WaportError(ErrorCode.PROVIDER_UNAVAILABLE, message, provider=provider)

    limits = aiohttp.ClientTimeout(total=None, sock_connect=read_timeout, sock_read=read_timeout)
    try:
        async with http.get(
            url, headers=headers, allow_redirects=False, timeout=limits
        ) as response:
            if response.status == 404:  # noqa: PLR2004
                raise WaportError(
                    ErrorCode.MEDIA_NOT_FOUND,
                    "the provider no longer has this media",
                    provider=provider,
                )
            if response.status != 200:  # noqa: PLR2004
                raise unavailable(f"the media download answered HTTP {response.status}")

            async def chunks() -> AsyncIterator[bytes]:
                async for chunk in response.content.iter_chunked(DOWNLOAD_CHUNK):
                    yield chunk

            yield response.headers.get("Content-Type"), chunks()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise unavailable(f"cannot download the media: {type(exc).__name__}") from exc
