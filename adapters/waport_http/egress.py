"""Where waport may connect: a guard against server-side request forgery.

Two kinds of URL come from API callers: a message's ``webhook_url`` (waport itself
POSTs events there) and media ``url`` values (the provider fetches them; for the
WhatsApp-Web provider that fetch happens inside your network). Unless
``allow_private_urls`` is set, both must resolve only to public addresses:

- at acceptance, the URL must be http(s), without credentials, and no address its
  host resolves to may be loopback, private, link-local (cloud metadata), carrier-grade
  NAT, multicast, reserved or documentation space; IPv4 addresses embedded in IPv6
  (mapped, NAT64, 6to4) are unwrapped first;
- at delivery, outbound webhooks connect through :class:`GuardedResolver`, which
  checks the answers it hands to the connector, so the address checked is the address
  connected to (no DNS-rebinding gap). Literal addresses are checked before the
  request; redirects are never followed.

Literal forms such as ``http://2130706433/`` and ``http://0177.0.0.1/`` are resolved by
the system resolver like any host name, so they are checked as the address they mean.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import aiohttp
import anyio
import attrs
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from waport import ErrorCode, WaportError

_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
_SIXTOFOUR: Final = ipaddress.ip_network("2002::/16")
_SPECIAL_V4: Final = ipaddress.ip_network("192.0.0.0/24")  # IETF protocol assignments, whole
_RESOLVE_TIMEOUT: Final = 5.0

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _embedded(ip: Address) -> Address:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4), else itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip in _SIXTOFOUR and ip.sixtofour is not None:
            return ip.sixtofour
    return ip


def is_public(address: str | Address) -> bool:
    """Whether an address is one waport may connect to without ``allow_private_urls``."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    except ValueError:
        return False
    ip = _embedded(ip)
    if ip.version == 4 and ip in _SPECIAL_V4:  # noqa: PLR2004 - the IP version
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def _refused(param: str, why: str) -> WaportError:
    return WaportError(ErrorCode.URL_NOT_ALLOWED, why, param)


def parse_url(url: str, param: str) -> URL:
    """Check a URL's form: http(s), a host, no credentials."""
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        raise _refused(param, "not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise _refused(param, "only http and https URLs with a host are allowed")
    if parsed.user is not None or parsed.password is not None:
        raise _refused(param, "URLs may not carry credentials")
    return parsed


async def resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for a host (literal forms included)."""
    with anyio.fail_after(_RESOLVE_TIMEOUT):
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@attrs.define
class CallerUrls:
    """The gateway's :class:`waport.ports.UrlGuard`: refuses (``URL_NOT_ALLOWED``,
    naming the field) a malformed URL and, unless private addresses are allowed, one
    whose host resolves to any non-public address. Media URLs are checked only when the
    provider fetches them from inside your network (``guard_media``). A host's verdict
    is remembered for ``ttl`` seconds, so a broadcast resolves each host once."""

    allow_private: bool = False
    guard_media: bool = True
    ttl: float = 60.0
    resolver: Callable[[str, int], Awaitable[list[str]]] = resolve
    _verdicts: dict[str, tuple[float, bool]] = attrs.field(factory=dict, init=False)

    async def check(self, url: str, *, param: str, kind: str) -> None:
        parsed = parse_url(url, param)
        if self.allow_private or (kind == "media" and not self.guard_media):
            return
        host = parsed.raw_host or ""
        now = time.monotonic()
        known = self._verdicts.get(host)
        if known is not None and known[0] > now:
            public = known[1]
        else:
            try:
                addresses = await self.resolver(host, parsed.port or 443)
            except (OSError, TimeoutError):
                addresses = []
            public = bool(addresses) and all(is_public(a) for a in addresses)
            if len(self._verdicts) > 10_000:  # noqa: PLR2004 - a bound, not a tuning knob
                self._verdicts.clear()
            self._verdicts[host] = (now + self.ttl, public)
        if not public:
            # one answer whether the host is private or unknown: the refusal must not
            # tell a caller which internal names exist (a DNS oracle)
            raise _refused(param, f"the host {host!r} does not resolve to public addresses")


class BlockedAddressError(OSError):
    """A connection refused by the guard (an ``OSError``, so aiohttp reports it as a
    connection error and the delivery is retried later like any other)."""


class GuardedResolver(AbstractResolver):
    """Resolves like the system resolver, then refuses an answer holding any
    non-public address. The connector connects to exactly the addresses returned."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        if not answers or not all(is_public(a["host"]) for a in answers):
            raise BlockedAddressError(f"{host} resolves to a private or reserved address")
        return answers

    async def close(self) -> None:
        await self._inner.close()


def guarded_session(
    *, allow_private: bool, inner: AbstractResolver | None = None, **kwargs: Any
) -> aiohttp.ClientSession:
    """A client session for URLs callers gave us: no proxies from the environment, and
    unless private addresses are allowed, every connection checked by the guard."""
    connector = aiohttp.TCPConnector(
        resolver=inner if allow_private else GuardedResolver(inner), use_dns_cache=False
    )
    return aiohttp.ClientSession(connector=connector, trust_env=False, **kwargs)


def literal_refused(url: str, *, allow_private: bool) -> bool:
    """Whether a URL names a non-public literal IP address (aiohttp connects to literals
    without asking the resolver, so the relay checks them itself)."""
    if allow_private:
        return False
    host = URL(url).raw_host or ""
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return not is_public(host.strip("[]"))
