"""WahaProvider: an unofficial WhatsApp-Web gateway (WAHA) through its HTTP API.

One WAHA session is one sender (``sender_id`` = the session name). Capabilities are
honest: no templates, groups and channels, base64 media by configuration,
interactive buttons and lists off by default (WAHA calls them unreliable), and no
24-hour window (that is Meta's policy, not WhatsApp-Web's).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Final

import aiohttp
import attrs

from waport import codec
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.events import ProviderEvent
from waport.domain.limits import MediaKind
from waport.domain.messages import MODES, MediaData, MediaStream, OutboundMessage
from waport.domain.recipients import GROUP_PREFIX, Recipient
from waport.domain.templates import BoundTemplate, TemplateSpec
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
from waport_web import errors, media, wire

HMAC_HEADER: Final = "X-Webhook-Hmac"
DEFAULT_TIMEOUT: Final = 20.0
"""Seconds a WAHA request (and so a send, which is one request) may take."""

log = logging.getLogger("waport.web")


def default_capabilities(
    *,
    base64_media: bool = True,
    interactive: bool = False,
    message_ids: bool = False,
    max_rps: float = 20.0,
    send_timeout: float | None = DEFAULT_TIMEOUT,
) -> Capabilities:
    modes = set(MODES) - {"template"}
    if not interactive:
        modes.discard("interactive")
    return Capabilities(
        modes=frozenset(modes),
        interactive_types=frozenset({"buttons", "list"}) if interactive else frozenset(),
        button_types=frozenset({"reply", "url", "call", "copy"}) if interactive else frozenset(),
        media_kinds=frozenset(
            {MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.AUDIO, MediaKind.DOCUMENT}
        ),
        groups=True,
        channels=True,
        fetches_urls_locally=True,
        base64_media=base64_media,
        templates=False,
        window_applies=False,
        max_rps=max_rps,
        client_message_ids=message_ids,
        send_timeout=send_timeout,  # a send is one request
        streams_media=base64_media,
        mark_read=True,
        typing=True,
    )


@attrs.define
class WahaProvider:
    http: aiohttp.ClientSession
    clock: Clock
    url: str
    session: str = "default"
    api_key: str | None = attrs.field(default=None, repr=False)
    hmac_key: str | None = attrs.field(default=None, repr=False)
    base64_media: bool = True
    interactive: bool = False
    message_ids: bool = False
    """Send a pre-generated message id derived from waport's id (NOWEB/GOWS engines), so a
    retried text, location or contact card re-uses it."""
    recording_indicator: bool = True
    """Before a voice note, set the chat's presence to ``recording`` (best effort: a
    failure is logged and the note still goes), as a person's phone would show."""
    timeout: float = DEFAULT_TIMEOUT
    max_rps: float = 20.0
    _capabilities: tuple[dict[str, Any], Capabilities] | None = attrs.field(
        default=None, init=False, repr=False
    )

    @property
    def name(self) -> str:
        return "web"

    @property
    def capabilities(self) -> Capabilities:
        # built once per configuration (3.6 µs each), not on each of a send's reads
        settings: dict[str, Any] = {
            "base64_media": self.base64_media,
            "interactive": self.interactive,
            "message_ids": self.message_ids,
            "max_rps": self.max_rps,
            "send_timeout": self.timeout,
        }
        cached = self._capabilities
        if cached is None or cached[0] != settings:
            cached = self._capabilities = (settings, default_capabilities(**settings))
        return cached[1]

    @property
    def senders(self) -> Sequence[str]:
        return (self.session,)

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
        return self

    @property
    def numbers(self) -> NumberCheck:
        return self

    @property
    def template_admin(self) -> TemplateAdmin | None:
        return None  # WhatsApp Web has no templates

    async def on_whatsapp(self, recipient: Recipient, *, sender: str) -> bool:
        """WAHA's check-exists: ``{numberExists, chatId?}``."""
        body = await self._call(
            "GET",
            "/api/contacts/check-exists",
            params={"phone": recipient.value, "session": self.session},
        )
        return isinstance(body, Mapping) and body.get("numberExists") is True

    def download_media(
        self, provider_media_id: str, *, sender: str
    ) -> AbstractAsyncContextManager[MediaDownload]:
        """The file a ``message`` event named (its URL is the provider media id)."""
        return media.download(self, provider_media_id)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        media_stream: MediaStream | None = None,
    ) -> Any:
        """One WAHA request; with ``media_stream``, the body's media placeholder is the
        stream's base64, encoded while the body is sent."""
        headers = {"X-Api-Key": self.api_key} if self.api_key else {}
        data: bytes | AsyncIterator[bytes] | None = None
        if json_body is not None:
            data = codec.json_bytes(json_body)
            headers["Content-Type"] = "application/json"
        if media_stream is not None and isinstance(data, bytes):
            streamed = media.StreamedBody.around(data, media_stream)
            data = streamed.chunks()
            headers["Content-Length"] = str(streamed.length)
        try:
            async with self.http.request(
                method,
                self.url.rstrip("/") + path,
                data=data,
                params=params,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                raw = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except TimeoutError as exc:
            raise WaportError(
                ErrorCode.PROVIDER_UNAVAILABLE, "WAHA did not answer in time", provider="web"
            ) from exc
        except aiohttp.ClientError as exc:
            raise WaportError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                f"cannot reach WAHA: {type(exc).__name__}",
                provider="web",
            ) from exc
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            if status >= 400:  # noqa: PLR2004
                raise errors.from_response(status, None, retry_after) from exc
            raise WaportError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                f"WAHA answered HTTP {status} with a body that is not JSON",
                provider="web",
                provider_code=str(status),
            ) from exc
        if status >= 400:  # noqa: PLR2004
            raise errors.from_response(status, body, retry_after)
        return body

    async def send(
        self,
        message: OutboundMessage,
        *,
        sender: str,
        client_id: str,
        template: BoundTemplate | None = None,
        reply_to: str | None = None,
    ) -> SendReceipt:
        caps = self.capabilities
        if message.mode not in caps.modes:
            raise WaportError(
                ErrorCode.FEATURE_NOT_SUPPORTED,
                f"WhatsApp-Web cannot send {message.mode} messages",
                message.mode,
            )
        if message.to.kind == "user" or message.to.value.startswith(GROUP_PREFIX):
            raise WaportError(
                ErrorCode.FEATURE_NOT_SUPPORTED,
                "WhatsApp-Web sends to numbers and JIDs (not to user ids or Groups API ids)",
                "to",
            )
        if sender != self.session:
            raise WaportError(
                ErrorCode.SENDER_NOT_FOUND,
                f"{sender} is not this gateway's WAHA session",
                "sender_id",
            )
        content = message.content
        source = getattr(content, "source", None)
        if isinstance(source, MediaData | MediaStream) and not self.base64_media:
            raise WaportError(
                ErrorCode.BASE64_NOT_SUPPORTED,
                "this WAHA is configured to take media by URL only",
                "media.data",
            )
        method, path, body = wire.request_for(
            message,
            session=self.session,
            client_id=client_id,
            reply_to=reply_to,
            message_ids=self.message_ids,
        )
        stream = source if isinstance(source, MediaStream) else None
        if path == wire.VOICE_PATH and self.recording_indicator:
            await self._presence(wire.chat_id(message.to), "recording")
        answer = await self._call(method, path, json_body=body, media_stream=stream)
        pid = wire.sent_id(answer, body.get("id") if isinstance(body.get("id"), str) else None)
        if pid is None:
            pid = f"unknown.{client_id}"  # it was sent (2xx): never fail it into a re-send
        return SendReceipt(provider_message_id=pid, accepted_at=self.clock.now())

    async def _presence(self, chat: str, presence: str) -> None:
        try:
            await self._call(
                "POST",
                f"/api/{self.session}/presence",
                json_body={"chatId": chat, "presence": presence},
            )
        except WaportError as exc:  # an indicator never costs the message
            log.warning("WAHA presence %s for a chat failed: %s", presence, exc.code)

    async def mark_read(
        self, provider_message_id: str, *, sender: str, contact: Recipient, typing: bool = False
    ) -> None:
        chat = wire.chat_id(contact)
        await self._call(
            "POST",
            "/api/sendSeen",
            json_body={
                "session": self.session,
                "chatId": chat,
                "messageIds": [f"false_{chat}_{provider_message_id}"],
            },
        )
        if typing:
            await self._call(
                "POST", "/api/startTyping", json_body={"session": self.session, "chatId": chat}
            )

    async def upload_media(
        self, media: MediaData | MediaStream, *, sender: str, kind: MediaKind
    ) -> str:
        raise WaportError(
            ErrorCode.FEATURE_NOT_SUPPORTED,
            "WhatsApp-Web takes media inline; there is nothing to upload first",
        )

    async def list_templates(self, sender: str) -> Sequence[TemplateSpec]:
        raise WaportError(ErrorCode.FEATURE_NOT_SUPPORTED, "WhatsApp-Web has no templates")

    async def ping(self) -> None:
        body = await self._call("GET", f"/api/sessions/{self.session}")
        status = body.get("status") if isinstance(body, Mapping) else None
        if status != "WORKING":
            raise WaportError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                f"the WAHA session is {status}, not WORKING",
                provider="web",
            )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[ProviderEvent]:
        given = next((v for k, v in headers.items() if k.lower() == HMAC_HEADER.lower()), "")
        if not self.hmac_key:
            raise WaportError(
                ErrorCode.INVALID_SIGNATURE,
                "no HMAC key is configured, so no webhook can be verified",
            )
        expected = hmac.new(self.hmac_key.encode(), body, hashlib.sha512).hexdigest()
        if not hmac.compare_digest(given.lower().encode(), expected.encode()):
            raise WaportError(ErrorCode.INVALID_SIGNATURE, "X-Webhook-Hmac does not match the body")
        try:
            envelope = json.loads(body)
        except (ValueError, RecursionError):
            raise WaportError(ErrorCode.VALIDATION_FAILED, "the webhook body is not JSON") from None
        return wire.parse_envelope(envelope, self.clock.now())
