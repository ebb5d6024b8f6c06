"""Outbound webhooks: from the persisted outbox to the receivers, signed per Standard Webhooks.

* at least once: an event leaves the outbox only when a receiver answered 2xx, the
  receiver answered 410 (the URL is disabled), or the retry schedule is exhausted;
* in order per message: the outbox only hands out the earliest undelivered event
  of a message (``OutboxStore.claim``), so ``sent`` never overtakes ``delivered``;
* retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (with jitter, and never
  before the receiver's ``Retry-After``); redirects are not followed (a 3xx fails);
* ``webhook-id`` is the event id, the same on every attempt, so receivers dedupe
  by it; ``webhook-timestamp`` and ``webhook-signature`` are new on each attempt.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta

import aiohttp
import anyio
import attrs
from anyio.abc import TaskStatus

from waport import codec
from waport.domain.records import OutboxEvent
from waport.domain.schedule import parse_retry_after, webhook_retry_at
from waport.ports import Clock, OutboxStore
from waport.service.compose import WEBHOOK_SECRET_PREFIX, new_webhook_secret
from waport_http.egress import BlockedAddressError, literal_refused

log = logging.getLogger("waport.webhooks")
SECRET_PREFIX = WEBHOOK_SECRET_PREFIX


new_secret = new_webhook_secret


def _secret_bytes(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        return raw.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``."""
    mac = hmac.new(_secret_bytes(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode("ascii")


def verify(
    secret: str,
    headers: dict[str, str],
    body: bytes,
    *,
    now: datetime,
    tolerance: timedelta = timedelta(minutes=5),
) -> bool:
    """Check a Standard Webhooks delivery (what a receiver does); constant-time."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    if not msg_id or not stamp.isdigit():
        return False
    if abs(now.timestamp() - int(stamp)) > tolerance.total_seconds():
        return False
    expected = sign(secret, msg_id, int(stamp), body)
    return any(
        hmac.compare_digest(expected, candidate)
        for candidate in headers.get("webhook-signature", "").split()
    )


class Verdict(enum.Enum):
    """What a receiver should do with a delivery."""

    OK = "ok"
    """Genuine and new: process it, then answer 2xx."""
    DUPLICATE = "duplicate"
    """Genuine, but this ``webhook-id`` was accepted before (a retry or a replay):
    answer 2xx without processing it again."""
    STALE = "stale"
    """The timestamp is outside the tolerance: answer 400 (a replay of an old capture,
    or a clock far off)."""
    BAD_SIGNATURE = "bad_signature"
    """Not signed by any of the secrets: answer 401."""


@attrs.define
class WebhookVerifier:
    """A receiver's check of waport's (or any) Standard Webhooks deliveries, with replay
    protection: the signature (any of ``secrets``, so a secret can be rotated), the
    timestamp within ``tolerance``, and each ``webhook-id`` accepted once. An id need
    only be remembered while its timestamp could still pass, so memory stays bounded.

    ``verdict = verifier.check(request.headers, await request.read(), now=datetime.now(UTC))``
    """

    secrets: Sequence[str]
    tolerance: timedelta = timedelta(minutes=5)
    _seen: dict[str, float] = attrs.field(factory=dict, init=False)

    def check(self, headers: Mapping[str, str], body: bytes, *, now: datetime) -> Verdict:
        lowered = {k.lower(): v for k, v in headers.items()}
        msg_id = lowered.get("webhook-id", "")
        stamp = lowered.get("webhook-timestamp", "")
        given = lowered.get("webhook-signature", "").split()
        if not msg_id or not stamp.isdigit() or len(stamp) > 12:  # noqa: PLR2004 - digits of a Unix time
            return Verdict.BAD_SIGNATURE
        signed = any(
            hmac.compare_digest(sign(secret, msg_id, int(stamp), body), candidate)
            for secret in self.secrets
            for candidate in given
        )
        if not signed:
            return Verdict.BAD_SIGNATURE
        if abs(now.timestamp() - int(stamp)) > self.tolerance.total_seconds():
            return Verdict.STALE
        self._forget(now.timestamp())
        if msg_id in self._seen:
            return Verdict.DUPLICATE
        self._seen[msg_id] = now.timestamp() + 2 * self.tolerance.total_seconds()
        return Verdict.OK

    def _forget(self, now: float) -> None:
        # insertion order is expiry order (a constant lifetime), so stop at the first live one
        for msg_id, until in list(self._seen.items()):
            if until > now:
                break
            del self._seen[msg_id]


def body_of(event: OutboxEvent) -> bytes:
    return codec.json_bytes(event.payload)


@attrs.frozen(kw_only=True)
class DeliveryResult:
    delivered: int = 0
    failed: int = 0
    dead: int = 0


@attrs.define
class WebhookRelay:
    """Delivers outbox events. ``deliver_once`` is the loop body tests call directly."""

    outbox: OutboxStore
    """The outbox port alone: the relay leases, delivers and retires events."""
    http: aiohttp.ClientSession
    clock: Clock
    secret_for: Callable[[str], Awaitable[str | None]]
    """The signing secret of a workspace."""
    timeout: float = 15.0
    batch: int = 64
    concurrency: int = 16
    lease: timedelta | None = None
    """How long a claimed event is ours; by default twice the timeout plus a second, so an
    event claimed by a process that died is retried soon after."""
    rand: random.Random = attrs.Factory(random.Random)
    guarded_http: aiohttp.ClientSession | None = None
    """The session for URLs callers gave (a message's ``webhook_url``): it refuses
    private addresses (see :mod:`waport_http.egress`). None: ``http`` for every URL."""
    trusted_url_for: Callable[[str], Awaitable[str | None]] | None = None
    """The operator's own webhook URL of a workspace, delivered through ``http``."""
    _wake: anyio.Event = attrs.field(factory=anyio.Event, init=False)
    delivered_total: int = attrs.field(default=0, init=False)
    failed_total: int = attrs.field(default=0, init=False)

    def wake(self) -> None:
        self._wake.set()

    async def deliver_once(self) -> DeliveryResult:
        now = self.clock.now()
        lease = self.lease or timedelta(seconds=2 * self.timeout + 1)
        events = await self.outbox.claim(now, limit=self.batch, lease=lease)
        counts = {"delivered": 0, "failed": 0, "dead": 0}
        limiter = anyio.CapacityLimiter(self.concurrency)

        async def one(event: OutboxEvent) -> None:
            async with limiter:
                counts[await self._deliver(event)] += 1

        async with anyio.create_task_group() as tg:
            for event in events:
                tg.start_soon(one, event)
        self.delivered_total += counts["delivered"]
        self.failed_total += counts["failed"] + counts["dead"]
        return DeliveryResult(**counts)

    async def _deliver(self, event: OutboxEvent) -> str:
        body = body_of(event)
        now = self.clock.now()
        secret = await self.secret_for(event.workspace_id)
        headers = {
            "content-type": "application/json",
            "user-agent": "waport-webhooks/0.1",
            "webhook-id": event.id,
            "webhook-timestamp": str(int(now.timestamp())),
        }
        if secret:
            headers["webhook-signature"] = sign(secret, event.id, int(now.timestamp()), body)
        retry_after: float | None = None
        http = self.http
        if self.guarded_http is not None and (
            self.trusted_url_for is None
            or event.url != await self.trusted_url_for(event.workspace_id)
        ):
            http = self.guarded_http
            if literal_refused(event.url, allow_private=False):
                return await self._refuse(event, now)
        try:
            async with http.post(
                event.url,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                status = response.status
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, BlockedAddressError):
                return await self._refuse(event, now)
            status, error = 0, f"{type(exc).__name__}: {exc}"[:500]
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            status = 0
            error = f"{type(exc).__name__}: {exc}"[:500]
        else:
            error = f"HTTP {status}"
        if 200 <= status < 300:  # noqa: PLR2004 - HTTP success range
            await self.outbox.delivered(event.id, at=self.clock.now())
            return "delivered"
        if status == 410:  # noqa: PLR2004 - Gone: the receiver asks us to stop
            log.warning("webhook endpoint %s answered 410 Gone; disabling it", event.url)
            await self.outbox.failed(event.id, at=now, due_at=None, error=error)
            await self.outbox.kill_url(event.url, error="410 Gone")
            return "dead"
        due = webhook_retry_at(now, event.attempts + 1, self.rand.random(), retry_after=retry_after)
        await self.outbox.failed(event.id, at=now, due_at=due, error=error)
        return "failed" if due is not None else "dead"

    async def _refuse(self, event: OutboxEvent, now: datetime) -> str:
        """A URL the guard refuses is never tried again."""
        log.warning("webhook %s refused: its URL resolves to a private address", event.id)
        error = "URL_NOT_ALLOWED: the URL resolves to a private or reserved address"
        await self.outbox.failed(event.id, at=now, due_at=None, error=error)
        return "dead"

    async def run(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED, interval: float = 0.5
    ) -> None:
        task_status.started()
        while True:
            try:
                result = await self.deliver_once()
            except Exception:
                log.exception("webhook delivery pass failed")
                result = DeliveryResult()
            if result.delivered + result.failed + result.dead >= self.batch:
                continue
            with anyio.move_on_after(interval):
                await self._wake.wait()
            self._wake = anyio.Event()
