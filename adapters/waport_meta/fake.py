"""FakeGraphApi: Meta's Graph API on 127.0.0.1, for tests and test harnesses.

A real aiohttp server that checks every request against the documented shapes
(``../shared/reference/meta-cloud-api.md``), records what it received, answers
with documented success bodies and documented error bodies, pages the template
catalogue, and can be scripted to fail. ``meta_harness`` wraps it as the provider
contract's ``ProviderHarness``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Final

import aiohttp
import anyio
import attrs
from aiohttp import web

from waport import httpkit
from waport.domain.recipients import Recipient
from waport.domain.status import MessageStatus
from waport.domain.templates import TemplateSpec
from waport.testing import FakeClock
from waport.testing.failures import RemoteFailure
from waport.testing.faults import Fault, reset_connection
from waport_meta import fake_templates, wire
from waport_meta.fake_checks import check_message
from waport_meta.fake_constants import MEDIA_TYPES
from waport_meta.provider import MetaCloudProvider

TOKEN: Final = "test-token"
PHONE_NUMBER_ID: Final = "106540352242922"
WABA_ID: Final = "102290129340398"
APP_SECRET: Final = "test-app-secret"
VERIFY_TOKEN: Final = "test-verify-token"

DEFAULT_TEMPLATES: Final[tuple[dict[str, Any], ...]] = (
    {
        "id": "1001",
        "name": "hello_world",
        "language": "en_US",
        "status": "APPROVED",
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": "Hello World"}],
    },
    {
        "id": "1002",
        "name": "order_update",
        "language": "en_US",
        "status": "APPROVED",
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": "Hi {{1}}, your order {{2}} is on its way."}],
    },
    {
        "id": "1003",
        "name": "spring_sale",
        "language": "en_US",
        "status": "APPROVED",
        "category": "MARKETING",
        "parameter_format": "NAMED",
        "components": [
            {"type": "HEADER", "format": "IMAGE"},
            {"type": "BODY", "text": "Hi {{first_name}}, use {{code}} for 20% off."},
            {"type": "FOOTER", "text": "Reply STOP to opt out"},
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "URL", "text": "Shop", "url": "https://shop.example.com/{{1}}"},
                    {"type": "QUICK_REPLY", "text": "Not now"},
                ],
            },
        ],
    },
    {
        "id": "1004",
        "name": "login_code",
        "language": "en_US",
        "status": "APPROVED",
        "category": "AUTHENTICATION",
        "components": [
            {"type": "BODY", "text": "{{1}} is your verification code."},
            {
                "type": "BUTTONS",
                "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}],
            },
        ],
    },
    {
        "id": "1005",
        "name": "old_promo",
        "language": "en_US",
        "status": "PAUSED",
        "category": "MARKETING",
        "components": [{"type": "BODY", "text": "Old news"}],
    },
)

_FAILURES: Final[Mapping[RemoteFailure, tuple[int, dict[str, Any] | None]]] = {
    RemoteFailure.AUTH: (
        401,
        {
            "message": "Error validating access token: Session has expired",
            "type": "OAuthException",
            "code": 190,
            "error_subcode": 463,
        },
    ),
    RemoteFailure.RATE_LIMIT: (
        400,
        {
            "message": "(#130429) Rate limit hit",
            "type": "OAuthException",
            "code": 130429,
            "error_data": {
                "messaging_product": "whatsapp",
                "details": "Cloud API message throughput has been reached.",
            },
        },
    ),
    RemoteFailure.PAIR_RATE_LIMIT: (
        400,
        {
            "message": "(#131056) (Business Account, Consumer Account) pair rate limit hit",
            "type": "OAuthException",
            "code": 131056,
        },
    ),
    RemoteFailure.NOT_ON_WHATSAPP: (
        400,
        {"message": "(#131026) Message undeliverable", "type": "OAuthException", "code": 131026},
    ),
    RemoteFailure.WINDOW_CLOSED: (
        400,
        {
            "message": "(#131047) Re-engagement message",
            "type": "OAuthException",
            "code": 131047,
            "error_data": {
                "details": "More than 24 hours have passed since the recipient last replied to the sender number."
            },
        },
    ),
    RemoteFailure.TEMPLATE_NOT_APPROVED: (
        400,
        {"message": "(#132015) Template is Paused", "type": "OAuthException", "code": 132015},
    ),
    RemoteFailure.SERVER_ERROR: (
        503,
        {"message": "(#2) Service temporarily unavailable", "type": "OAuthException", "code": 2},
    ),
    RemoteFailure.TIMEOUT: (200, None),
    RemoteFailure.MALFORMED: (200, None),
}


def _addressee(payload: Mapping[str, Any]) -> str:
    """Whom a send went to, as waport names them."""
    if "recipient" in payload:
        return str(payload["recipient"])
    if payload.get("recipient_type") == "group":
        return f"group:{payload['to']}"
    return str(payload["to"]).lstrip("+")


def _contact(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The ``contacts`` entry of a send's answer: the number, the user id, or the group."""
    if "recipient" in payload:
        return {"input": payload["recipient"], "user_id": payload["recipient"]}
    if payload.get("recipient_type") == "group":
        return {"input": payload["to"], "group_id": payload["to"]}
    return {"input": payload["to"], "wa_id": payload["to"].lstrip("+")}


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {
            "error": {
                "message": message,
                "type": "OAuthException",
                "code": code,
                "fbtrace_id": "AfakeTRACEid",
            }
        },
        status=status,
    )


@attrs.define
class FakeGraphApi:
    """The fake server's state. ``url`` is its base (pass it as the provider's graph_url)."""

    url: str = ""
    token: str = TOKEN
    phone_number_ids: tuple[str, ...] = (PHONE_NUMBER_ID,)
    waba_id: str = WABA_ID
    templates: list[dict[str, Any]] = attrs.Factory(lambda: [dict(t) for t in DEFAULT_TEMPLATES])
    page_size: int = 2
    timeout_delay: float = 3.0
    sent: list[dict[str, Any]] = attrs.Factory(list)
    wamids: list[str] = attrs.Factory(list)
    """The id answered for each entry of ``sent``."""
    reads: list[dict[str, Any]] = attrs.Factory(list)
    uploads: list[dict[str, Any]] = attrs.Factory(list)
    stored_media: dict[str, tuple[bytes, str]] = attrs.Factory(dict)
    """Media the fake holds by id (bytes, MIME type): customers' media a test seeds, and
    uploads. ``GET /{id}`` answers its media object, whose URL downloads it with the token."""
    media_failures: dict[str, int] = attrs.Factory(dict)
    """Per media id, how many downloads answer 500 before one succeeds."""
    media_downloads: int = 0
    download_delay: float = 0.0
    """Seconds each media download takes before its bytes are answered."""
    invalid: list[tuple[str, list[str]]] = attrs.Factory(list)
    calls: int = 0
    failures: list[RemoteFailure] = attrs.Factory(list)
    faults: list[Fault] = attrs.Factory(list)
    """Network faults for the next sends (see :class:`waport.testing.faults.Fault`)."""
    slow_delay: float = 0.2
    upload_delay: float = 0.0
    """Seconds each media upload takes before it is answered."""
    validate: bool = True
    record: bool = True
    _ids: itertools.count[int] = attrs.Factory(lambda: itertools.count(1))
    _run: str = attrs.Factory(lambda: secrets.token_hex(4).upper())
    """Part of every id answered, so a restarted fake never repeats an earlier one's ids
    (Meta's never repeat; a gateway's database keeps them across the fake's restarts)."""

    def app(self) -> web.Application:
        application = web.Application(client_max_size=200 * 1024 * 1024)
        application.router.add_post("/{version}/{node}/messages", self.messages)
        application.router.add_post("/{version}/{node}/media", self.media)
        application.router.add_get("/{version}/{node}/message_templates", self.message_templates)
        application.router.add_post("/{version}/{node}/message_templates", self.create_template)
        application.router.add_delete("/{version}/{node}/message_templates", self.delete_template)
        application.router.add_get("/{version}/{node}", self.node)
        application.router.add_get("/_media/{media_id}", self.download, name="download")
        return application

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def messages(self, request: web.Request) -> web.StreamResponse:
        self.calls += 1
        if not self._authorised(request):
            return _error(401, 190, "Invalid OAuth access token")
        if request.match_info["node"] not in self.phone_number_ids:
            return _error(400, 100, "(#100) Unsupported post request. Object does not exist")
        try:
            payload = await request.json()
        except ValueError:
            return _error(400, 100, "(#100) The parameter messaging_product is required.")
        problems = check_message(payload) if self.validate else []
        if problems:
            self.invalid.append((json.dumps(payload)[:500], problems))
            return _error(400, 100, "(#100) Invalid parameter: " + "; ".join(problems))
        if payload.get("status") == "read":
            self.reads.append(payload)
            return web.json_response({"success": True})
        if self.failures:
            kind = self.failures.pop(0)
            status, error = _FAILURES[kind]
            if kind == RemoteFailure.TIMEOUT:
                await anyio.sleep(self.timeout_delay)
            elif kind == RemoteFailure.MALFORMED:
                return web.Response(status=200, text="<html>oops</html>", content_type="text/html")
            return web.json_response(
                {"error": {**(error or {}), "fbtrace_id": "AfakeTRACEid"}}, status=status
            )
        fault = self.faults.pop(0) if self.faults else None
        if fault is Fault.RESET:
            return await reset_connection(request)
        if fault is Fault.RETRY_AFTER:
            _, error = _FAILURES[RemoteFailure.RATE_LIMIT]
            return web.json_response(
                {"error": {**(error or {}), "fbtrace_id": "AfakeTRACEid"}},
                status=429,
                headers={"Retry-After": "120"},
            )
        if fault is Fault.SLOW:
            await anyio.sleep(self.slow_delay)
        wamid = f"wamid.FAKE{self._run}{next(self._ids):012d}"
        if self.record:
            self.sent.append(payload)
            self.wamids.append(wamid)
        if fault is Fault.ACCEPT_THEN_HANG:
            await anyio.sleep(self.timeout_delay)
        answer: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "contacts": [_contact(payload)],
            "messages": [{"id": wamid}],
        }
        if payload["type"] == "template":
            answer["messages"][0]["message_status"] = "accepted"
        return web.json_response(answer)

    async def media(self, request: web.Request) -> web.Response:
        self.calls += 1
        if not self._authorised(request):
            return _error(401, 190, "Invalid OAuth access token")
        form = await request.post()
        file = form.get("file")
        if (
            form.get("messaging_product") != "whatsapp"
            or not isinstance(file, web.FileField)
            or not form.get("type")
        ):
            self.invalid.append(("media upload", ["needs messaging_product, file and type"]))
            return _error(400, 100, "(#100) Invalid parameter")
        data = file.file.read()
        if self.upload_delay:
            await anyio.sleep(self.upload_delay)
        self.uploads.append(
            {
                "type": form.get("type"),
                "size": len(data),
                "content_type": file.content_type,
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
        return web.json_response({"id": f"{next(self._ids):016d}"})

    async def message_templates(self, request: web.Request) -> web.Response:
        self.calls += 1
        if not self._authorised(request):
            return _error(401, 190, "Invalid OAuth access token")
        if request.match_info["node"] != self.waba_id:
            return _error(400, 100, "(#100) Object does not exist")
        start = int(request.query.get("after", "0"))
        page = self.templates[start : start + self.page_size]
        body: dict[str, Any] = {
            "data": page,
            "paging": {"cursors": {"before": str(start), "after": str(start + len(page))}},
        }
        if start + self.page_size < len(self.templates):
            body["paging"]["next"] = (
                f"{self.url}/{request.match_info['version']}/{self.waba_id}/message_templates?limit={self.page_size}&after={start + self.page_size}"
            )
        return web.json_response(body)

    async def create_template(self, request: web.Request) -> web.Response:
        self.calls += 1
        if not self._authorised(request):
            return _error(401, 190, "Invalid OAuth access token")
        if request.match_info["node"] != self.waba_id:
            return _error(400, 100, "(#100) Object does not exist")
        payload = await request.json()
        problems = fake_templates.check_template(payload)
        if problems:
            self.invalid.append(("message_templates", problems))
            return _error(400, 100, "(#100) Invalid parameter: " + "; ".join(problems))
        made = fake_templates.created(payload, f"{next(self._ids):016d}")
        self.templates.append(made)
        return web.json_response({k: made[k] for k in ("id", "status", "category")})

    async def delete_template(self, request: web.Request) -> web.Response:
        self.calls += 1
        if not self._authorised(request):
            return _error(401, 190, "Invalid OAuth access token")
        name = request.query.get("name", "")
        kept = [t for t in self.templates if t.get("name") != name]
        if len(kept) == len(self.templates):
            return _error(404, 100, f"(#100) Message template {name!r} not found")
        self.templates[:] = kept
        return web.json_response({"success": True})

    async def node(self, request: web.Request) -> web.Response:
        self.calls += 1
        if not self._authorised(request):
            return _error(401, 190, "Invalid OAuth access token")
        node = request.match_info["node"]
        if node in self.stored_media:
            data, mime = self.stored_media[node]
            return web.json_response(
                {
                    "messaging_product": "whatsapp",
                    "url": str(
                        request.url.origin().join(
                            request.app.router["download"].url_for(media_id=node)
                        )
                    ),
                    "mime_type": mime,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "file_size": str(len(data)),
                    "id": node,
                }
            )
        if node not in self.phone_number_ids:
            return _error(400, 100, "(#100) Object does not exist")
        return web.json_response(
            {"id": node, "display_phone_number": "15550783881", "verified_name": "waport test"}
        )

    async def download(self, request: web.Request) -> web.StreamResponse:
        """A media URL: the bytes, for the bearer token only (as Meta's)."""
        if not self._authorised(request):
            return _error(401, 190, "Invalid OAuth access token")
        media_id = request.match_info["media_id"]
        if media_id not in self.stored_media:
            return web.Response(status=404)
        if self.media_failures.get(media_id, 0) > 0:
            self.media_failures[media_id] -= 1
            return web.Response(status=500)
        self.media_downloads += 1
        if self.download_delay:
            await anyio.sleep(self.download_delay)
        data, mime = self.stored_media[media_id]
        return web.Response(body=data, content_type=mime)

    # ------------------------------------------------------------------ webhook bodies

    def webhook(
        self, value: Mapping[str, Any], *, phone_number_id: str = PHONE_NUMBER_ID
    ) -> dict[str, Any]:
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": self.waba_id,
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550783881",
                                    "phone_number_id": phone_number_id,
                                },
                                **value,
                            },
                        }
                    ],
                }
            ],
        }


def sign(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {
        "X-Hub-Signature-256": "sha256="
        + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    }


@asynccontextmanager
async def open_fake_graph(host: str = "127.0.0.1", **kwargs: Any) -> AsyncIterator[FakeGraphApi]:
    """The fake Graph API on ``host`` (loopback; a test network's own address for
    gateways in network namespaces)."""
    fake = FakeGraphApi(**kwargs)
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://{host}:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()


def _mode(payload: Mapping[str, Any]) -> str:
    kind = str(payload.get("type"))
    return "media" if kind in MEDIA_TYPES else kind


@attrs.define
class MetaHarness:
    """The provider contract's remote control for the Cloud API."""

    provider: MetaCloudProvider
    fake: FakeGraphApi

    @property
    def sender_id(self) -> str:
        return PHONE_NUMBER_ID

    @property
    def template(self) -> TemplateSpec | None:
        return wire.template_from_graph(DEFAULT_TEMPLATES[1], sender_id=PHONE_NUMBER_ID)

    @property
    def remote_calls(self) -> int:
        return self.fake.calls

    @property
    def supported_failures(self) -> frozenset[RemoteFailure]:
        return frozenset(RemoteFailure)

    def script_failure(self, kind: RemoteFailure) -> None:
        self.fake.failures.append(kind)

    @property
    def group(self) -> Recipient:
        """A group this provider sends to (the contract's group send)."""
        return Recipient("group", "group:Y2FwaV9ncm91cDox")

    def sent(self) -> Sequence[Mapping[str, str]]:
        return [{"to": _addressee(p), "mode": _mode(p)} for p in self.fake.sent]

    def seed_media(self, data: bytes, mime_type: str) -> str:
        media_id = f"{900_000 + len(self.fake.stored_media)}"
        self.fake.stored_media[media_id] = (data, mime_type)
        return media_id

    def _signed(self, value: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
        body = json.dumps(self.fake.webhook(value), separators=(",", ":")).encode()
        return sign(body), body

    def status_webhook(
        self, provider_message_id: str, status: MessageStatus, *, at: datetime
    ) -> tuple[dict[str, str], bytes]:
        return self._signed(
            {
                "statuses": [
                    {
                        "id": provider_message_id,
                        "status": status.value,
                        "timestamp": str(int(at.timestamp())),
                        "recipient_id": "255712345678",
                    }
                ]
            }
        )

    def inbound_webhook(
        self, *, contact: Recipient, text: str, provider_message_id: str, at: datetime
    ) -> tuple[dict[str, str], bytes]:
        wa_id = str(contact)
        return self._signed(
            {
                "contacts": [{"profile": {"name": "Test Contact"}, "wa_id": wa_id}],
                "messages": [
                    {
                        "from": wa_id,
                        "id": provider_message_id,
                        "timestamp": str(int(at.timestamp())),
                        "type": "text",
                        "text": {"body": text},
                    }
                ],
            }
        )


@asynccontextmanager
async def meta_harness(
    *, request_timeout: float = 1.0, pooled: bool = True
) -> AsyncIterator[MetaHarness]:
    """A Cloud API provider pointed at a fresh FakeGraphApi: as ``open_meta`` builds it,
    with a keep-alive pool (``pooled=False``: every request through aiohttp)."""
    async with (
        open_fake_graph() as fake,
        aiohttp.ClientSession() as http,
        httpkit.ConnectionPool(fake.url) as pool,
    ):
        provider = MetaCloudProvider(
            http=http,
            clock=FakeClock(),
            token=TOKEN,
            phone_number_ids=(PHONE_NUMBER_ID,),
            waba_id=WABA_ID,
            app_secret=APP_SECRET,
            verify_token=VERIFY_TOKEN,
            graph_url=fake.url,
            timeout=request_timeout,
            pool=pool if pooled else None,
        )
        yield MetaHarness(provider=provider, fake=fake)


if __name__ == "__main__":  # pragma: no cover - ``python -m waport_meta.fake``
    from waport_meta.fake_server import main

    main()
