"""SandboxProvider: a simulated WhatsApp for development and tests.

It accepts sends and returns provider ids, then reports ``sent`` -> ``delivered`` ->
``read`` on a schedule driven by the injected clock (collected with
``poll_events(now)``). It behaves like Meta where that matters: a free-form send
to a contact whose window is closed fails with WINDOW_CLOSED (as Meta's 131047
does), an unknown template is refused, and it de-duplicates sends by waport's
message id (so re-sending after a crash is safe). It can be scripted to fail a
recipient with any catalogue code, to be slow, to answer 429 with a Retry-After,
to treat a number as not on WhatsApp, and to deliver an inbound message. Any sender
id is one of its numbers (``sender_ids`` are those a gateway starts with).

It also speaks a small signed webhook format (JSON events, ``X-Sandbox-Signature``
= hex HMAC-SHA256 of the body), so the webhook route and the provider contract
can be exercised without a remote.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import os
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

import anyio
import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.events import InboundMessage, ProviderEvent, StatusUpdate
from waport.domain.limits import CUSTOMER_SERVICE_WINDOW, MediaKind
from waport.domain.media import kind_from_mime
from waport.domain.messages import (
    MediaData,
    MediaSource,
    MediaStored,
    MediaStream,
    OutboundMessage,
    TemplateMessage,
)
from waport.domain.recipients import Recipient
from waport.domain.sources import media_of, with_source
from waport.domain.status import ErrorDetail, MessageStatus
from waport.domain.templates import BoundTemplate, TemplateCategory, TemplateSpec, spec_from_text
from waport.domain.window import is_gated
from waport.ports import (
    Capabilities,
    Clock,
    EventSource,
    MediaDownload,
    MediaDownloader,
    NumberCheck,
    SandboxControl,
    SendReceipt,
    SubscriptionHandshake,
    TemplateAdmin,
    WebhookReceiver,
)
from waport_memory.sandbox_templates import SandboxTemplates
from waport_memory.sandbox_wire import event_from_json

SANDBOX_SENDER: Final = "sandbox-sender"
SIGNATURE_HEADER: Final = "X-Sandbox-Signature"
_JOURNAL_FIELDS: Final = 3
K = TypeVar("K")
V = TypeVar("V")


def default_templates(sender_id: str = SANDBOX_SENDER) -> tuple[TemplateSpec, ...]:
    """The sandbox's starting catalogue, approved, in ``en_US``: ``hello_world`` (no
    parameters) and ``order_update`` (body parameters 1 and 2), both UTILITY, and
    ``spring_sale`` (body parameter 1), MARKETING (an opted-out contact is not sent it)."""
    return (
        spec_from_text(
            sender_id=sender_id,
            name="hello_world",
            language="en_US",
            body="Hello World! Welcome to the waport sandbox.",
            category=TemplateCategory.UTILITY,
        ),
        spec_from_text(
            sender_id=sender_id,
            name="order_update",
            language="en_US",
            body="Hi {{1}}, your order {{2}} is on its way.",
            category=TemplateCategory.UTILITY,
        ),
        spec_from_text(
            sender_id=sender_id,
            name="spring_sale",
            language="en_US",
            body="Hi {{1}}, our spring sale starts today: 20% off everything.",
            category=TemplateCategory.MARKETING,
        ),
    )


@attrs.frozen(kw_only=True)
class SentMessage:
    """What reached the simulated WhatsApp."""

    client_id: str
    provider_message_id: str
    sender: str
    message: OutboundMessage
    template: BoundTemplate | None
    reply_to: str | None
    at: datetime


@attrs.define(kw_only=True)
class _Script:
    to: Recipient | None
    fail_with: ErrorCode | None
    delay_ms: int
    retry_after: float | None
    times: int
    senders: frozenset[str] | None
    """Only sends from these senders take the script (None: any)."""


@attrs.define(kw_only=True)
class SandboxProvider:
    """A simulated WhatsApp. See the module docstring."""

    clock: Clock
    sender_ids: tuple[str, ...] = (SANDBOX_SENDER,)
    max_rps: float = 1000.0
    delivered_after: timedelta = timedelta(seconds=1)
    read_after: timedelta | None = timedelta(seconds=2)
    webhook_secret: str = attrs.field(factory=lambda: secrets.token_hex(32), repr=False)
    """Signs ``/webhooks/sandbox`` requests. Generated per instance unless given: a secret
    everyone knows would let anyone who reaches the port open windows."""
    enforce_window: bool = True
    journal: str | None = None
    """A file where every accepted send is appended (and fsynced) before it is answered:
    the sandbox then remembers what it sent across restarts, like a real provider."""
    limited_to: Capabilities | None = None
    """Make the sandbox behave like a more limited provider (its capabilities are these)."""
    keep_sent: int = 1_000
    """How many sent messages ``sent`` (and ``marked_read``) keep for inspection; older
    ones are dropped, so memory stays bounded however long the sandbox runs."""
    remember: int = 50_000
    """How many receipts (for re-sends), send counts and contact windows are remembered;
    the oldest are forgotten first."""
    keep_media_bytes: int = 1024 * 1024
    """Media bytes larger than this are not kept in ``sent``: the message keeps a
    reference with their digest and size instead (``MediaStored``, id ``sandbox``)."""
    keep_inbound_media: int = 100
    """How many media contacts sent (``inbound(media=...)``) the sandbox holds for
    download, the newest first kept."""
    max_scripts: int = 1_000
    """How many scripted outcomes may wait at once."""
    templates: dict[str, list[TemplateSpec]] = attrs.Factory(dict)
    sent: list[SentMessage] = attrs.Factory(list)
    remote_calls: int = 0
    marked_read: list[str] = attrs.Factory(list)
    successes: dict[str, int] = attrs.Factory(dict)
    """How many times each waport message id was answered with a receipt (re-sends included)."""
    not_on_whatsapp: set[Recipient] = attrs.Factory(set)
    _scripts: list[_Script] = attrs.Factory(list)
    _by_client: dict[str, SendReceipt] = attrs.Factory(dict)
    _events: list[tuple[datetime, int, ProviderEvent]] = attrs.Factory(list)
    _seq: itertools.count[int] = attrs.Factory(lambda: itertools.count(1))
    _inbound_at: dict[tuple[str, str], datetime] = attrs.Factory(dict)
    _nonce: str = attrs.Factory(lambda: secrets.token_hex(4))
    _inbound_media: dict[str, MediaData] = attrs.Factory(dict)
    _capabilities: Capabilities | None = attrs.field(default=None, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        for sender in self.sender_ids:
            self.templates.setdefault(sender, list(default_templates(sender)))
        if self.journal is not None and os.path.exists(self.journal):
            _drop_torn_tail(self.journal)
            with open(self.journal, encoding="utf-8") as lines:
                for line in lines:
                    parts = line.rstrip("\n").split("\t")
                    if len(parts) == _JOURNAL_FIELDS:
                        client_id, pid, _ = parts
                        receipt = SendReceipt(provider_message_id=pid, accepted_at=self.clock.now())
                        _bounded_put(self._by_client, client_id, receipt, self.remember)

    # ------------------------------------------------------------------ Provider

    @property
    def name(self) -> str:
        return "sandbox"

    @property
    def capabilities(self) -> Capabilities:
        if self.limited_to is not None:
            return self.limited_to
        caps = self._capabilities  # built once: a send reads them several times
        if caps is None or caps.max_rps != self.max_rps:
            caps = self._capabilities = Capabilities(
                groups=True,
                user_ids=True,
                channels=True,
                base64_media=True,
                streams_media=True,
                templates=True,
                window_applies=True,
                max_rps=self.max_rps,
                client_message_ids=True,
                typing=True,
            )
        return caps

    @property
    def senders(self) -> Sequence[str]:
        return self.sender_ids

    @property
    def receiver(self) -> WebhookReceiver:
        return self

    @property
    def handshake(self) -> SubscriptionHandshake | None:
        return None

    @property
    def events(self) -> EventSource:
        return self

    @property
    def sandbox(self) -> SandboxControl:
        return self

    @property
    def downloads(self) -> MediaDownloader:
        return self

    @property
    def numbers(self) -> NumberCheck:
        return self

    @property
    def template_admin(self) -> TemplateAdmin:
        return SandboxTemplates(self._catalogue)

    async def on_whatsapp(self, recipient: Recipient, *, sender: str) -> bool:
        return recipient not in self.not_on_whatsapp

    @asynccontextmanager
    async def download_media(
        self, provider_media_id: str, *, sender: str
    ) -> AsyncIterator[MediaDownload]:
        self.remote_calls += 1
        held = self._inbound_media.get(provider_media_id)
        if held is None:
            raise WaportError(
                ErrorCode.MEDIA_NOT_FOUND, "the sandbox holds no such media", provider="sandbox"
            )
        yield MediaDownload(
            mime_type=held.mime,
            size=len(held.data),
            sha256=hashlib.sha256(held.data).hexdigest(),
            chunks=_chunks(held.data),
        )

    def hold_media(self, media: MediaData) -> str:
        """Hold media as if a contact had sent it; its sandbox media id."""
        media_id = f"sbx-in-media-{self._nonce}-{next(self._seq):06d}"
        _bounded_put(self._inbound_media, media_id, media, self.keep_inbound_media)
        return media_id

    async def send(
        self,
        message: OutboundMessage,
        *,
        sender: str,
        client_id: str,
        template: BoundTemplate | None = None,
        reply_to: str | None = None,
    ) -> SendReceipt:
        self.remote_calls += 1
        script = self._take_script(message.to, sender)
        if script is not None:
            if script.delay_ms:
                await anyio.sleep(script.delay_ms / 1000)
            if script.fail_with is not None:
                raise WaportError(
                    script.fail_with,
                    f"sandbox: scripted {script.fail_with}",
                    provider="sandbox",
                    provider_code=str(script.fail_with),
                    provider_message="scripted failure",
                    retry_after=script.retry_after,
                )
        if message.to in self.not_on_whatsapp:
            raise WaportError(
                ErrorCode.RECIPIENT_NOT_ON_WHATSAPP,
                "sandbox: the recipient is not on WhatsApp",
                provider="sandbox",
                provider_code="131026",
            )
        if isinstance(message.content, TemplateMessage):
            known = {(t.name, t.language) for t in self._catalogue(sender)}
            if (message.content.name, message.content.language) not in known:
                raise WaportError(
                    ErrorCode.TEMPLATE_NOT_FOUND,
                    "sandbox: no such template",
                    "template.name",
                    provider="sandbox",
                    provider_code="132001",
                )
        _bounded_put(self.successes, client_id, self.successes.get(client_id, 0) + 1, self.remember)
        previous = self._by_client.get(client_id)
        if previous is not None:
            return previous
        now = self.clock.now()
        pid = f"sbx.{client_id}"  # unique across restarts, like a real provider's ids
        receipt = SendReceipt(provider_message_id=pid, accepted_at=now)
        if self.journal is not None:
            await anyio.to_thread.run_sync(
                self._append_journal, self.journal, f"{client_id}\t{pid}\t{message.to}\n"
            )
        _bounded_put(self._by_client, client_id, receipt, self.remember)
        _trim(self.sent, self.keep_sent)
        self.sent.append(
            SentMessage(
                client_id=client_id,
                provider_message_id=pid,
                sender=sender,
                message=await _received(message, self.keep_media_bytes),
                template=template,
                reply_to=reply_to,
                at=now,
            )
        )
        self._schedule_statuses(message, sender=sender, pid=pid, client_id=client_id, now=now)
        return receipt

    def _schedule_statuses(
        self, message: OutboundMessage, *, sender: str, pid: str, client_id: str, now: datetime
    ) -> None:
        def status(kind: MessageStatus, at: datetime, error: ErrorDetail | None = None) -> None:
            update = StatusUpdate(
                provider="sandbox",
                provider_message_id=pid,
                status=kind,
                at=at,
                recipient=str(message.to),
                message_id=client_id,
                error=error,
            )
            heapq.heappush(self._events, (at, next(self._seq), update))

        status(MessageStatus.SENT, now)
        opened = self._inbound_at.get((str(message.to), sender))
        window_open = opened is not None and now - opened < CUSTOMER_SERVICE_WINDOW
        if (
            self.enforce_window
            and is_gated(message.content)
            and message.to.person
            and not window_open
        ):
            error = ErrorDetail(
                code=ErrorCode.WINDOW_CLOSED,
                message="more than 24 hours since the customer last replied",
                provider="sandbox",
                provider_code="131047",
                provider_message="Re-engagement message",
            )
            status(MessageStatus.FAILED, now + self.delivered_after, error)
            return
        status(MessageStatus.DELIVERED, now + self.delivered_after)
        if self.read_after is not None:
            status(MessageStatus.READ, now + self.read_after)

    @staticmethod
    def _append_journal(path: str, line: str) -> None:
        with open(path, "a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())

    def _take_script(self, to: Recipient, sender: str) -> _Script | None:
        for script in self._scripts:
            if (script.to is None or script.to == to) and (
                script.senders is None or sender in script.senders
            ):
                script.times -= 1
                if script.times <= 0:
                    self._scripts.remove(script)
                return script
        return None

    async def mark_read(
        self, provider_message_id: str, *, sender: str, contact: Recipient, typing: bool = False
    ) -> None:
        self.remote_calls += 1
        _trim(self.marked_read, self.keep_sent)
        self.marked_read.append(provider_message_id)

    async def upload_media(
        self, media: MediaData | MediaStream, *, sender: str, kind: MediaKind
    ) -> str:
        self.remote_calls += 1
        if isinstance(media, MediaStream):
            async for _ in media.open():  # received, as a provider would
                pass
        return f"sbx-media-{next(self._seq)}"

    async def list_templates(self, sender: str) -> Sequence[TemplateSpec]:
        self.remote_calls += 1
        return tuple(self._catalogue(sender))

    def _catalogue(self, sender: str) -> list[TemplateSpec]:
        """A sender's templates: any number is the sandbox's (a sender a workspace adds
        through the API sends at once), with the default catalogue unless set."""
        found = self.templates.get(sender)
        if found is None:  # built once: a send asks for it every time
            found = self.templates[sender] = list(default_templates(sender))
        return found

    async def ping(self) -> None:
        return None

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[ProviderEvent]:
        signature = next(
            (v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), ""
        )
        expected = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            raise WaportError(
                ErrorCode.INVALID_SIGNATURE, "the sandbox webhook signature does not match"
            )
        try:
            data = json.loads(body)
            return tuple(event_from_json(item) for item in data["events"])
        except WaportError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError):
            raise WaportError(ErrorCode.VALIDATION_FAILED, "malformed sandbox webhook") from None

    async def poll_events(self, now: datetime) -> Sequence[ProviderEvent]:
        due: list[ProviderEvent] = []
        while self._events and self._events[0][0] <= now:
            due.append(heapq.heappop(self._events)[2])
        return due

    # ------------------------------------------------------------------ SandboxControl

    def inbound(
        self,
        *,
        contact: Recipient,
        sender_id: str,
        text: str,
        at: datetime,
        reply_to: str | None = None,
        media: MediaData | None = None,
    ) -> InboundMessage:
        _bounded_put(self._inbound_at, (str(contact), sender_id), at, self.remember)
        kind, payload = "text", {}
        if media is not None:  # text is the caption
            kind = str(kind_from_mime(media.mime))
            payload = {
                "id": self.hold_media(media),
                "mime_type": media.mime,
                "sha256": hashlib.sha256(media.data).hexdigest(),
            }
        return InboundMessage(
            provider="sandbox",
            provider_message_id=f"sbx.in.{self._nonce}.{next(self._seq):06d}",
            sender_id=sender_id,
            contact=contact,
            received_at=at,
            kind=kind,
            text=(text or None) if media is not None else text,
            reply_to=reply_to,
            payload=payload,
        )

    def script(
        self,
        *,
        to: Recipient | None = None,
        fail_with: ErrorCode | None = None,
        delay_ms: int = 0,
        retry_after: float | None = None,
        times: int = 1,
        senders: frozenset[str] | None = None,
    ) -> None:
        if len(self._scripts) >= self.max_scripts:
            raise WaportError(
                ErrorCode.RATE_LIMITED,
                f"{self.max_scripts} scripted outcomes are waiting already; send to use them",
            )
        self._scripts.append(
            _Script(
                to=to,
                fail_with=fail_with,
                delay_ms=delay_ms,
                retry_after=retry_after,
                times=times,
                senders=senders,
            )
        )

    # ------------------------------------------------------------------ webhook helpers

    def sign(self, body: bytes) -> dict[str, str]:
        return {
            SIGNATURE_HEADER: hmac.new(
                self.webhook_secret.encode(), body, hashlib.sha256
            ).hexdigest()
        }

    def webhook_body(self, events: Sequence[Mapping[str, Any]]) -> bytes:
        return json.dumps({"events": list(events)}).encode()


async def _chunks(data: bytes, size: int = 65_536) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _received(message: OutboundMessage, keep: int) -> OutboundMessage:
    """``message`` as the sandbox keeps it: streamed media read through (as a provider
    receives it), and media bytes over ``keep`` replaced by their digest."""
    media = media_of(message)
    source = media.source if media is not None else None
    if isinstance(source, MediaStream):
        digest, size, kept = hashlib.sha256(), 0, bytearray()
        async for chunk in source.open():
            digest.update(chunk)
            size += len(chunk)
            if size <= keep:
                kept += chunk
        got: MediaSource = MediaStored(
            media_id="sandbox", sha256=digest.hexdigest(), size=size, mime=source.mime
        )
        if size <= keep:
            got = MediaData(source.mime, bytes(kept))
        return with_source(message, lambda _: got)
    if isinstance(source, MediaData) and len(source.data) > keep:
        summary = MediaStored(
            media_id="sandbox",
            sha256=hashlib.sha256(source.data).hexdigest(),
            size=len(source.data),
            mime=source.mime,
        )
        return with_source(message, lambda _: summary)
    return message


def _bounded_put(table: dict[K, V], key: K, value: V, cap: int) -> None:
    """Set ``table[key]``, forgetting the oldest entries beyond ``cap`` (dicts keep
    insertion order, so the first key is the oldest)."""
    table.pop(key, None)
    table[key] = value
    while len(table) > cap:
        del table[next(iter(table))]


def _trim(items: list[Any], keep: int) -> None:
    """Before an append: past twice ``keep``, drop all but the newest ``keep`` (amortised
    O(1) a call, and ``items`` stays a list)."""
    if len(items) >= 2 * keep:
        del items[: len(items) - keep + 1]


def _drop_torn_tail(path: str) -> None:
    """Cut a journal's last line if a kill tore it (no newline): that send was never
    answered, so it was never accepted, and the next line must not be glued to it."""
    with open(path, "rb+") as journal:
        data = journal.read()
        if data and not data.endswith(b"\n"):
            journal.truncate(data.rfind(b"\n") + 1)
            os.fsync(journal.fileno())
