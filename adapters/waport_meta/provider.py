"""MetaCloudProvider: Meta's WhatsApp Cloud API (Graph API ``/{version}/{phone-number-id}/...``).

One ``aiohttp.ClientSession``, handed in by the application (never closed here) or
owned through ``open_meta`` (closed on exit), and optionally a ``waport.httpkit``
keep-alive pool to the Graph API (``open_meta`` opens one): requests to the pool's
origin go through it, at about a third of aiohttp's cost per request, and media
uploads (multipart) and other hosts through the session. No I/O at import or
construction. Every remote call goes through ``_call``, the one place that turns
transport failures, 5xx answers, error bodies and malformed answers into ``WaportError``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any, Final
from urllib.parse import urlencode

import aiohttp
import attrs
import orjson

from waport import codec, httpkit
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.events import ProviderEvent, SenderUpdate, TemplateUpdate
from waport.domain.limits import MediaKind
from waport.domain.messages import (
    HeaderMedia,
    InteractiveHeaderMedia,
    Media,
    MediaData,
    MediaStream,
    OutboundMessage,
    TemplateMessage,
)
from waport.domain.ratelimit import RateLimit
from waport.domain.recipients import GROUP_PREFIX, Recipient
from waport.domain.schedule import parse_retry_after
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
from waport_meta import errors, wire
from waport_meta.media import MEDIA_HOSTS, download
from waport_meta.templates import MetaTemplates

log = logging.getLogger("waport.meta")
DEFAULT_GRAPH_URL: Final = "https://graph.facebook.com"
DEFAULT_API_VERSION: Final = "v25.0"
SIGNATURE_HEADER: Final = "X-Hub-Signature-256"
DEFAULT_TIMEOUT: Final = 20.0
"""Seconds a Graph request (and so a send: see ``MetaCloudProvider.send``) may take."""


MEDIA_ID_LIFETIME: Final = timedelta(days=30)
"""How long the Cloud API keeps an uploaded media id usable."""


def default_capabilities(
    max_rps: float = 80.0, send_timeout: float | None = DEFAULT_TIMEOUT
) -> Capabilities:
    """What the Cloud API can send (DESIGN §2 and Meta's message types)."""
    return Capabilities(
        send_timeout=send_timeout,
        button_types=frozenset({"reply"}),
        groups=True,  # the Groups API: group:<id>
        user_ids=True,
        channels=False,
        base64_media=True,
        templates=True,
        window_applies=True,
        max_rps=max_rps,
        uploaded_media_ttl=MEDIA_ID_LIFETIME,
        streams_media=True,
        pair_rate=RateLimit(10, timedelta(minutes=1), burst=45),
        client_message_ids=False,
        mark_read=True,
        typing=True,
    )


@attrs.define
class MetaCloudProvider:
    """A ``Provider`` for the Cloud API. Build it with ``open_meta`` or hand it a session."""

    http: aiohttp.ClientSession
    clock: Clock
    token: str = attrs.field(repr=False)
    phone_number_ids: tuple[str, ...]
    waba_id: str | None = None
    app_secret: str | None = attrs.field(default=None, repr=False)
    verify_token: str | None = attrs.field(default=None, repr=False)
    graph_url: str = DEFAULT_GRAPH_URL
    api_version: str = DEFAULT_API_VERSION
    timeout: float = DEFAULT_TIMEOUT
    max_rps: float = 80.0
    media_hosts: tuple[str, ...] = MEDIA_HOSTS
    """Hosts a media download may be fetched from (besides the Graph host)."""
    pool: httpkit.ConnectionPool | None = None
    """Keep-alive connections for the requests on its origin (None: all through ``http``)."""
    remote_calls: int = 0
    _capabilities: Capabilities | None = attrs.field(default=None, init=False, repr=False)
    _client_timeout: aiohttp.ClientTimeout | None = attrs.field(
        default=None, init=False, repr=False
    )

    # ------------------------------------------------------------------ Provider

    @property
    def name(self) -> str:
        return "meta"

    @property
    def capabilities(self) -> Capabilities:
        caps = self._capabilities
        if caps is None or caps.max_rps != self.max_rps or caps.send_timeout != self.timeout:
            caps = self._capabilities = default_capabilities(self.max_rps, self.timeout)
        return caps

    @property
    def senders(self) -> Sequence[str]:
        return self.phone_number_ids

    @property
    def receiver(self) -> WebhookReceiver:
        return self

    @property
    def handshake(self) -> SubscriptionHandshake:
        return self

    @property
    def events(self) -> EventSource | None:
        return None

    @property
    def sandbox(self) -> SandboxControl | None:
        return None

    @property
    def downloads(self) -> MediaDownloader:
        return self

    @property
    def numbers(self) -> NumberCheck | None:
        return None  # the Cloud API cannot tell whether a number has WhatsApp

    @property
    def template_admin(self) -> TemplateAdmin:
        return MetaTemplates(self)

    def download_media(
        self, provider_media_id: str, *, sender: str
    ) -> AbstractAsyncContextManager[MediaDownload]:
        return download(self, provider_media_id, sender=sender)

    async def media_object(self, media_id: str, *, sender: str) -> Mapping[str, Any]:
        """The Graph API's media object (``url``, ``mime_type``, ``sha256``, ``file_size``)."""
        try:
            body = await self._call("GET", self._url(media_id), params={"phone_number_id": sender})
        except WaportError as err:
            if err.provider_code != "100":  # (#100) the object does not exist
                raise
            raise WaportError(
                ErrorCode.MEDIA_NOT_FOUND, "Meta has no media with this id", provider="meta"
            ) from err
        if not isinstance(body, Mapping):
            raise WaportError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                "Meta's media object is not an object",
                provider="meta",
            )
        return body

    def _url(self, *parts: str) -> str:
        return "/".join([self.graph_url.rstrip("/"), self.api_version, *parts])

    async def _call(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        form: aiohttp.FormData | None = None,
    ) -> Any:
        """One Graph request. Raises ``WaportError`` only, keeping the cause."""
        self.remote_calls += 1
        try:
            status, raw, retry_after = await self._exchange(method, url, json, params, form)
        except TimeoutError as exc:
            raise _no_answer() from exc
        except (aiohttp.ClientError, httpkit.TransportError) as exc:
            raise WaportError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                f"cannot reach Meta: {type(exc).__name__}",
                provider="meta",
            ) from exc
        try:
            body = orjson.loads(raw) if raw else {}  # Meta's numbers fit in 64 bits
        except ValueError as exc:
            raise WaportError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                f"Meta answered HTTP {status} with a body that is not JSON",
                provider="meta",
                provider_code=str(status),
            ) from exc
        if status >= 400 or (isinstance(body, Mapping) and "error" in body):  # noqa: PLR2004
            err = errors.from_graph_error(
                body.get("error") if isinstance(body, Mapping) else None, http_status=status
            )
            wait = parse_retry_after(retry_after)
            if err.retryable and wait is not None and err.retry_after is None:
                err = attrs.evolve(err, retry_after=wait)
            raise err
        return body

    async def _exchange(
        self,
        method: str,
        url: str,
        json: Any,
        params: Mapping[str, str] | None,
        form: aiohttp.FormData | None,
    ) -> tuple[int, bytes, str | None]:
        """The status, body and Retry-After of one request, through the pool where it can go."""
        headers = {"Authorization": f"Bearer {self.token}"}
        body = b""
        if json is not None:
            headers["Content-Type"] = "application/json"
            body = codec.json_bytes(json)
        pool = self.pool
        if form is None and pool is not None and pool.serves(url):
            if params:
                url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
            answer = await pool.request(
                method, url, headers=headers.items(), body=body, timeout=self.timeout
            )
            return answer.status, answer.body, answer.headers.get("retry-after")
        timeout = self._client_timeout
        if timeout is None or timeout.total != self.timeout:
            timeout = self._client_timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with self.http.request(
            method,
            url,
            headers=headers,
            data=form if json is None else body,
            params=params,
            timeout=timeout,
        ) as response:
            return response.status, await response.read(), response.headers.get("Retry-After")

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
        to = message.to
        sendable = to.person or (to.kind == "group" and to.value.startswith(GROUP_PREFIX))
        if message.mode not in caps.modes or not sendable:
            raise WaportError(
                ErrorCode.FEATURE_NOT_SUPPORTED,
                f"the Cloud API cannot send {message.mode} to {to.value} (its groups are "
                "group:<id>)",
                "to",
            )
        if sender not in self.phone_number_ids:
            raise WaportError(
                ErrorCode.SENDER_NOT_FOUND,
                f"{sender} is not a configured phone number id",
                "sender_id",
            )
        inline = _inline_media(message)
        if inline is None:  # one request, bounded by its own timeout
            body = await self._post_message(
                message, sender, client_id=client_id, template=template, reply_to=reply_to
            )
        else:  # the upload and the message share one deadline (capabilities.send_timeout)
            try:
                async with asyncio.timeout(self.timeout):
                    media_id = await self.upload_media(inline[0], sender=sender, kind=inline[1])
                    body = await self._post_message(
                        message,
                        sender,
                        client_id=client_id,
                        template=template,
                        reply_to=reply_to,
                        media_id=media_id,
                    )
            except TimeoutError as exc:
                raise _no_answer() from exc
        try:
            sent = body["messages"][0]
            pid = str(sent["id"])
        except (KeyError, IndexError, TypeError) as exc:
            raise WaportError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                "Meta's answer did not name the message",
                provider="meta",
            ) from exc
        return SendReceipt(
            provider_message_id=pid,
            accepted_at=self.clock.now(),
            provider_status=sent.get("message_status"),
        )

    async def _post_message(
        self,
        message: OutboundMessage,
        sender: str,
        *,
        client_id: str,
        template: BoundTemplate | None,
        reply_to: str | None,
        media_id: str | None = None,
    ) -> Any:
        payload = wire.message_payload(
            message, client_id=client_id, template=template, reply_to=reply_to, media_id=media_id
        )
        return await self._call("POST", self._url(sender, "messages"), json=payload)

    async def mark_read(
        self, provider_message_id: str, *, sender: str, contact: Recipient, typing: bool = False
    ) -> None:
        await self._call(
            "POST",
            self._url(sender, "messages"),
            json=wire.read_payload(provider_message_id, typing=typing),
        )

    async def upload_media(
        self, media: MediaData | MediaStream, *, sender: str, kind: MediaKind
    ) -> str:
        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", media.mime)
        # a stream goes as it is read (chunked), never whole in memory
        data = media.open() if isinstance(media, MediaStream) else media.data
        form.add_field("file", data, filename=f"upload.{kind.value}", content_type=media.mime)
        body = await self._call("POST", self._url(sender, "media"), form=form)
        media_id = body.get("id") if isinstance(body, Mapping) else None
        if not media_id:
            raise WaportError(
                ErrorCode.PROVIDER_UNAVAILABLE,
                "Meta's upload answer had no media id",
                provider="meta",
            )
        return str(media_id)

    async def list_templates(self, sender: str) -> Sequence[TemplateSpec]:
        if not self.waba_id:
            raise WaportError(
                ErrorCode.FEATURE_NOT_SUPPORTED,
                "set the WhatsApp Business Account id (waba_id) to sync templates",
            )
        url: str | None = self._url(self.waba_id, "message_templates")
        params: dict[str, str] | None = {
            "fields": "name,language,status,category,components,id",
            "limit": "100",
        }
        specs: list[TemplateSpec] = []
        pages = 0
        while url and pages < 1000:  # noqa: PLR2004 - a runaway paging guard
            body = await self._call("GET", url, params=params)
            pages += 1
            for item in body.get("data") or () if isinstance(body, Mapping) else ():
                spec = (
                    wire.template_from_graph(item, sender_id=sender)
                    if isinstance(item, Mapping)
                    else None
                )
                if spec is not None:
                    specs.append(spec)
            paging = body.get("paging") if isinstance(body, Mapping) else None
            url = paging.get("next") if isinstance(paging, Mapping) else None
            params = None  # the next URL carries its own query
        return specs

    async def ping(self) -> None:
        await self._call("GET", self._url(self.phone_number_ids[0]), params={"fields": "id"})

    def verify_subscription(self, query: Mapping[str, str]) -> str:
        """Meta's webhook handshake: echo ``hub.challenge`` for the right verify token only."""
        token = query.get("hub.verify_token", "")
        if (
            query.get("hub.mode") != "subscribe"
            or not self.verify_token
            or not hmac.compare_digest(token.encode(), self.verify_token.encode())
        ):
            raise WaportError(ErrorCode.FORBIDDEN, "the webhook verify token does not match")
        return query.get("hub.challenge", "")

    def verify_signature(self, headers: Mapping[str, str], body: bytes) -> None:
        given = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), "")
        if not self.app_secret:
            raise WaportError(
                ErrorCode.INVALID_SIGNATURE,
                "no app secret is configured, so no webhook can be verified",
            )
        expected = "sha256=" + hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise WaportError(
                ErrorCode.INVALID_SIGNATURE, "X-Hub-Signature-256 does not match the body"
            )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[ProviderEvent]:
        self.verify_signature(headers, body)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise WaportError(ErrorCode.VALIDATION_FAILED, "the webhook body is not JSON") from None
        events = wire.parse_events(data, errors.detail_from_graph_error, self.clock.now())
        senders = tuple(self.phone_number_ids)  # the account's word: for every number
        return [
            attrs.evolve(e, sender_ids=senders)
            if isinstance(e, TemplateUpdate | SenderUpdate)
            else e
            for e in events
        ]


def _no_answer() -> WaportError:
    """A request (or a send's upload and message together) past ``timeout``."""
    return WaportError(
        ErrorCode.PROVIDER_UNAVAILABLE, "Meta did not answer in time", provider="meta"
    )


def _inline_media(message: OutboundMessage) -> tuple[MediaData | MediaStream, MediaKind] | None:
    """The media of a message that must be uploaded first (a base64 data URI or upload)."""
    content = message.content
    media: Media | None = None
    if isinstance(content, Media):
        media = content
    elif isinstance(content, TemplateMessage) and isinstance(content.header, HeaderMedia):
        media = content.header.media
    elif isinstance(getattr(content, "header", None), InteractiveHeaderMedia):
        media = content.header.media  # type: ignore[union-attr]
    if media is None or not isinstance(media.source, MediaData | MediaStream):
        return None
    return media.source, media.kind
