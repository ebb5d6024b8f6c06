"""EchoProvider: a provider whose "remote" is an in-memory inbox.

It can send text only, to phone numbers only, and it signs its webhooks with
HMAC-SHA256 in an ``X-Echo-Signature`` header. Everything else it refuses with
``FEATURE_NOT_SUPPORTED`` before touching the remote, as the contract requires.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Mapping, Sequence
from datetime import datetime

import attrs

from waport.provider_kit import (
    BoundTemplate,
    Capabilities,
    Clock,
    ErrorCode,
    EventSource,
    InboundMessage,
    MediaData,
    MediaDownloader,
    MediaKind,
    MediaStream,
    MessageStatus,
    NumberCheck,
    OutboundMessage,
    ProviderEvent,
    Recipient,
    SandboxControl,
    SendReceipt,
    StatusUpdate,
    SubscriptionHandshake,
    TemplateAdmin,
    TemplateSpec,
    WaportError,
    WebhookReceiver,
    parse_recipient,
)


@attrs.define
class EchoRemote:
    """The toy remote: what it received, and the failure it should answer with next."""

    inbox: list[tuple[str, str, str]] = attrs.Factory(list)  # (sender, to, text)
    calls: int = 0
    next_error: WaportError | None = None


@attrs.define
class EchoProvider:
    remote: EchoRemote
    clock: Clock  # the one the plugin context gives: time is read from it, never the OS
    sender: str = "echo-1"
    secret: str = attrs.field(default="echo-secret", repr=False)
    _ids: itertools.count[int] = attrs.Factory(lambda: itertools.count(1))

    @property
    def name(self) -> str:
        return "echo"

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            modes=frozenset({"text"}),
            interactive_types=frozenset(),
            button_types=frozenset(),
            groups=False,
            channels=False,
            base64_media=False,
            templates=False,
            window_applies=False,
            max_rps=10,
            mark_read=False,
        )

    @property
    def senders(self) -> Sequence[str]:
        return (self.sender,)

    @property
    def receiver(self) -> WebhookReceiver:
        return self

    @property
    def handshake(self) -> SubscriptionHandshake | None:
        return None

    @property
    def events(self) -> EventSource | None:
        return None

    @property
    def sandbox(self) -> SandboxControl | None:
        return None

    @property
    def downloads(self) -> MediaDownloader | None:
        return None

    @property
    def numbers(self) -> NumberCheck | None:
        return None

    @property
    def template_admin(self) -> TemplateAdmin | None:
        return None

    async def send(
        self,
        message: OutboundMessage,
        *,
        sender: str,
        client_id: str,
        template: BoundTemplate | None = None,
        reply_to: str | None = None,
    ) -> SendReceipt:
        if message.mode != "text" or message.to.kind != "phone":
            raise WaportError(
                ErrorCode.FEATURE_NOT_SUPPORTED,
                f"echo cannot send {message.mode} to a {message.to.kind}",
            )
        self.remote.calls += 1
        if self.remote.next_error is not None:
            error, self.remote.next_error = self.remote.next_error, None
            raise error
        self.remote.inbox.append((sender, str(message.to), message.content.body))  # type: ignore[union-attr]
        return SendReceipt(
            provider_message_id=f"echo-{next(self._ids)}", accepted_at=self.clock.now()
        )

    async def mark_read(
        self, provider_message_id: str, *, sender: str, contact: Recipient, typing: bool = False
    ) -> None:
        raise WaportError(ErrorCode.FEATURE_NOT_SUPPORTED, "echo has no read receipts")

    async def upload_media(
        self, media: MediaData | MediaStream, *, sender: str, kind: MediaKind
    ) -> str:
        raise WaportError(ErrorCode.FEATURE_NOT_SUPPORTED, "echo has no media")

    async def list_templates(self, sender: str) -> Sequence[TemplateSpec]:
        return ()

    async def ping(self) -> None:
        return None

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[ProviderEvent]:
        given = next((v for k, v in headers.items() if k.lower() == "x-echo-signature"), "")
        expected = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise WaportError(ErrorCode.INVALID_SIGNATURE, "bad echo signature")
        try:
            data = json.loads(body)
            at = datetime.fromisoformat(data["at"])
            if data["kind"] == "status":
                return [
                    StatusUpdate(
                        provider="echo",
                        provider_message_id=data["id"],
                        status=MessageStatus(data["status"]),
                        at=at,
                    )
                ]
            return [
                InboundMessage(
                    provider="echo",
                    provider_message_id=data["id"],
                    sender_id=self.sender,
                    contact=parse_recipient(data["from"]),
                    received_at=at,
                    kind="text",
                    text=data["text"],
                )
            ]
        except (KeyError, ValueError, TypeError) as exc:
            raise WaportError(ErrorCode.VALIDATION_FAILED, "malformed echo webhook") from exc
