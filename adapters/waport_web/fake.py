"""FakeWaha: a WAHA server on 127.0.0.1 for tests and test harnesses.

It checks every request against WAHA's documented request shapes
(``../shared/reference/waha-api.md``), answers sends with 201 and an engine-shaped
body (NOWEB, WEBJS or GOWS style), honours pre-generated ids (a repeated id is not
sent twice), reports a session that is not WORKING with WAHA's 422, and can be
scripted to fail. ``web_harness`` wraps it as the provider contract's harness.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Final

import aiohttp
import anyio
import attrs
from aiohttp import web

from waport.domain.recipients import Recipient
from waport.domain.status import MessageStatus
from waport.domain.templates import TemplateSpec
from waport.testing import FakeClock
from waport.testing.failures import RemoteFailure
from waport.testing.faults import Fault, reset_connection
from waport_web import wire
from waport_web.provider import WahaProvider

API_KEY: Final = "test-waha-key"
HMAC_KEY: Final = "test-waha-hmac"
SESSION: Final = "default"
_CHAT: Final = re.compile(r"([0-9]+(-[0-9]+)?@(c\.us|g\.us|newsletter|lid))")
_ACK_NAMES: Final = {
    MessageStatus.SENT: (1, "SERVER"),
    MessageStatus.DELIVERED: (2, "DEVICE"),
    MessageStatus.READ: (3, "READ"),
    MessageStatus.PLAYED: (4, "PLAYED"),
    MessageStatus.FAILED: (-1, "ERROR"),
}
_MODES: Final = {
    "/api/sendText": "text",
    "/api/sendImage": "media",
    "/api/sendFile": "media",
    "/api/sendVoice": "media",
    "/api/sendVideo": "media",
    "/api/sendLocation": "location",
    "/api/sendContactVcard": "contacts",
    "/api/reaction": "reaction",
    "/api/sendButtons": "interactive",
    "/api/sendList": "interactive",
}


def _file_ok(file: Any) -> bool:
    return (
        isinstance(file, Mapping)
        and isinstance(file.get("mimetype"), str)
        and ("url" in file) != ("data" in file)
        and set(file) <= {"mimetype", "url", "data", "filename"}
    )


def check_request(path: str, body: Any) -> list[str]:
    """Problems with a WAHA request body, by its documented shape."""
    if not isinstance(body, Mapping):
        return ["the body is not an object"]
    in_path = path.endswith("/presence")  # the session is in the path: /api/{session}/...
    problems = [] if in_path or isinstance(body.get("session"), str) else ["session is required"]
    if path == "/api/reaction":
        if not isinstance(body.get("messageId"), str) or not isinstance(body.get("reaction"), str):
            problems.append("reaction needs messageId and reaction")
        return problems
    chat = body.get("chatId")
    if not isinstance(chat, str) or not _CHAT.fullmatch(chat):
        problems.append("chatId must be <digits>@c.us, @g.us, @newsletter or @lid")
    common = {"session", "chatId", "reply_to"}
    if path == "/api/sendText":
        allowed = common | {"text", "linkPreview", "linkPreviewHighQuality", "id", "mentions"}
        if not isinstance(body.get("text"), str) or not body["text"]:
            problems.append("sendText needs text")
    elif path in ("/api/sendImage", "/api/sendFile"):
        allowed = common | {"file", "caption"}
        if not _file_ok(body.get("file")):
            problems.append("file is {mimetype, url} or {mimetype, data[, filename]}")
    elif path in ("/api/sendVoice", "/api/sendVideo"):
        allowed = common | {"file", "convert", "caption", "asNote"}
        if not _file_ok(body.get("file")) or not isinstance(body.get("convert"), bool):
            problems.append(f"{path} needs file and convert")
        if path == "/api/sendVoice" and "caption" in body:
            problems.append("a voice message takes no caption")
    elif path == "/api/sendLocation":
        allowed = common | {"latitude", "longitude", "title", "id"}
        if not all(
            isinstance(body.get(k), int | float) for k in ("latitude", "longitude")
        ) or not isinstance(body.get("title"), str):
            problems.append("sendLocation needs latitude, longitude and title")
    elif path == "/api/sendContactVcard":
        allowed = common | {"contacts", "id"}
        contacts = body.get("contacts")
        if (
            not isinstance(contacts, list)
            or not contacts
            or not all(
                isinstance(c, Mapping)
                and ("vcard" in c or ("fullName" in c and "phoneNumber" in c))
                for c in contacts
            )
        ):
            problems.append("contacts are {vcard} or {fullName, phoneNumber}")
    elif path in ("/api/sendSeen", "/api/startTyping", "/api/stopTyping"):
        allowed = {"session", "chatId", "messageIds", "messageId", "participant"}
    elif path.endswith("/presence"):
        allowed = {"chatId", "presence"}
        if body.get("presence") not in ("offline", "online", "typing", "recording", "paused"):
            problems.append("presence is offline, online, typing, recording or paused")
    elif path == "/api/sendButtons":
        allowed = common | {"header", "body", "footer", "buttons", "headerImage"}
        buttons = body.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 4:
            problems.append("sendButtons needs 1-4 buttons")
    elif path == "/api/sendList":
        allowed = common | {"message"}
        if not isinstance(body.get("message"), Mapping) or not body["message"].get("sections"):
            problems.append("sendList needs message.sections")
    else:
        return [f"unknown endpoint {path}"]
    extra = set(body) - allowed
    if extra:
        problems.append(f"unknown fields {sorted(extra)}")
    return problems


@attrs.define
class FakeWaha:
    url: str = ""
    api_key: str = API_KEY
    session: str = SESSION
    status: str = "WORKING"
    engine: str = "NOWEB"
    clock: FakeClock = attrs.Factory(FakeClock)
    timeout_delay: float = 3.0
    faults: list[Fault] = attrs.Factory(list)
    """Network faults for the next sends (see :class:`waport.testing.faults.Fault`)."""
    slow_delay: float = 0.2
    sent: list[tuple[str, dict[str, Any]]] = attrs.Factory(list)
    seen: list[dict[str, Any]] = attrs.Factory(list)
    invalid: list[tuple[str, list[str]]] = attrs.Factory(list)
    calls: int = 0
    failures: list[RemoteFailure] = attrs.Factory(list)
    files: dict[str, tuple[bytes, str]] = attrs.Factory(dict)
    without_whatsapp: set[str] = attrs.Factory(set)
    """Numbers (digits) check-exists says have no WhatsApp account."""
    """Media contacts sent, as WAHA keeps them: file name -> (bytes, mime type)."""
    refuse_next: list[str] = attrs.Factory(list)
    """Field-level messages to refuse the next send with (WAHA's 400 validation answer)."""
    file_failures: int = 0
    """How many file downloads to answer 500 first."""
    file_downloads: int = 0
    _by_id: dict[str, dict[str, Any]] = attrs.Factory(dict)
    _ids: itertools.count[int] = attrs.Factory(lambda: itertools.count(1))
    _run: str = attrs.Factory(lambda: secrets.token_hex(4).upper())
    """Part of every message id answered, so a restarted fake never repeats an earlier
    one's ids (a gateway's database keeps them across the fake's restarts)."""

    def app(self) -> web.Application:
        application = web.Application(client_max_size=200 * 1024 * 1024)
        for path in (
            "/api/sendText",
            "/api/sendImage",
            "/api/sendFile",
            "/api/sendVoice",
            "/api/sendVideo",
            "/api/sendLocation",
            "/api/sendContactVcard",
            "/api/sendButtons",
            "/api/sendList",
        ):
            application.router.add_post(path, self.send)
        application.router.add_put("/api/reaction", self.send)
        application.router.add_post("/api/sendSeen", self.seen_handler)
        application.router.add_post("/api/startTyping", self.seen_handler)
        application.router.add_post("/api/stopTyping", self.seen_handler)
        application.router.add_post("/api/{session}/presence", self.seen_handler)
        application.router.add_get("/api/sessions/{session}", self.session_info)
        application.router.add_get("/api/contacts/check-exists", self.check_exists)
        application.router.add_get("/api/files/{session}/{name}", self.file)
        return application

    def _answer(self, chat: str, wid: str) -> dict[str, Any]:
        serialized = f"true_{chat}_{wid}"
        if self.engine == "WEBJS":
            return {
                "id": {"fromMe": True, "remote": chat, "id": wid, "_serialized": serialized},
                "body": "...",
                "ack": 0,
            }
        if self.engine == "GOWS":
            return {"id": serialized, "timestamp": int(self.clock.now().timestamp()), "ack": 0}
        return {
            "key": {"remoteJid": chat, "fromMe": True, "id": wid},
            "messageTimestamp": str(int(self.clock.now().timestamp())),
            "status": "PENDING",
        }

    async def send(self, request: web.Request) -> web.StreamResponse:
        self.calls += 1
        if request.headers.get("X-Api-Key") != self.api_key:
            return web.json_response({"message": "Unauthorized", "statusCode": 401}, status=401)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response(
                {"statusCode": 400, "message": ["body must be JSON"], "error": "Bad Request"},
                status=400,
            )
        path = request.path
        problems = check_request(path, body)
        if not problems and self.refuse_next:  # a rule of WAHA's that waport cannot know
            problems, self.refuse_next = self.refuse_next, []
        elif problems:
            self.invalid.append((path, problems))
        if problems:
            return web.json_response(
                {"statusCode": 400, "message": problems, "error": "Bad Request"}, status=400
            )
        if self.status != "WORKING":
            return web.json_response(
                {
                    "error": "Session status is not as expected. Try again later or restart the session",
                    "session": self.session,
                    "status": self.status,
                    "expected": ["WORKING"],
                },
                status=422,
            )
        if self.failures:
            kind = self.failures.pop(0)
            if kind == RemoteFailure.AUTH:
                return web.json_response({"message": "Unauthorized", "statusCode": 401}, status=401)
            if kind == RemoteFailure.RATE_LIMIT:
                return web.json_response(
                    {"message": "Too Many Requests", "statusCode": 429}, status=429
                )
            if kind == RemoteFailure.SERVER_ERROR:
                return web.json_response(
                    {
                        "statusCode": 500,
                        "exception": {"message": "Protocol error", "name": "Error"},
                    },
                    status=500,
                )
            if kind == RemoteFailure.TIMEOUT:
                await anyio.sleep(self.timeout_delay)
            if kind == RemoteFailure.MALFORMED:
                return web.Response(status=201, text="<!doctype html>", content_type="text/html")
        fault = self.faults.pop(0) if self.faults else None
        if fault is Fault.RESET:
            return await reset_connection(request)
        if fault is Fault.RETRY_AFTER:
            return web.json_response(
                {"message": "Too Many Requests", "statusCode": 429},
                status=429,
                headers={"Retry-After": "120"},
            )
        if fault is Fault.SLOW:
            await anyio.sleep(self.slow_delay)
        pregenerated = body.get("id")
        if isinstance(pregenerated, str) and pregenerated in self._by_id:
            return web.json_response(self._by_id[pregenerated], status=201)
        self.sent.append((path, body))
        chat = body.get("chatId") or str(body.get("messageId", "__")).split("_")[1]
        wid = (
            pregenerated
            if isinstance(pregenerated, str)
            else f"3EB0{self._run}{next(self._ids):012X}"
        )
        answer = self._answer(chat, wid) if path != "/api/reaction" else {}
        if isinstance(pregenerated, str):
            self._by_id[pregenerated] = answer
        if fault is Fault.ACCEPT_THEN_HANG:
            await anyio.sleep(self.timeout_delay)
        return web.json_response(answer, status=201 if path != "/api/reaction" else 200)

    async def seen_handler(self, request: web.Request) -> web.Response:
        self.calls += 1
        if request.headers.get("X-Api-Key") != self.api_key:
            return web.json_response({"message": "Unauthorized", "statusCode": 401}, status=401)
        body = await request.json()
        problems = check_request(request.path, body)
        if problems:
            self.invalid.append((request.path, problems))
            return web.json_response({"statusCode": 400, "message": problems}, status=400)
        self.seen.append({"path": request.path, **body})
        return web.json_response({"result": True}, status=201)

    async def session_info(self, request: web.Request) -> web.Response:
        self.calls += 1
        if request.headers.get("X-Api-Key") != self.api_key:
            return web.json_response({"message": "Unauthorized", "statusCode": 401}, status=401)
        return web.json_response(
            {
                "name": request.match_info["session"],
                "status": self.status,
                "engine": {"engine": self.engine},
            }
        )

    async def check_exists(self, request: web.Request) -> web.Response:
        """``GET /api/contacts/check-exists?phone=&session=``: ``{numberExists, chatId?}``."""
        self.calls += 1
        if request.headers.get("X-Api-Key") != self.api_key:
            return web.json_response({"message": "Unauthorized", "statusCode": 401}, status=401)
        phone = request.query.get("phone", "")
        if not phone.isdigit() or request.query.get("session") != self.session:
            return web.json_response(
                {"statusCode": 400, "message": ["phone must be digits"], "error": "Bad Request"},
                status=400,
            )
        if phone in self.without_whatsapp:
            return web.json_response({"numberExists": False})
        return web.json_response({"numberExists": True, "chatId": f"{phone}@c.us"})

    # ------------------------------------------------------------------ media

    def keep_file(self, data: bytes, mime_type: str) -> str:
        """Hold media a contact sent; its URL, as a ``message`` event names it."""
        name = f"false_{next(self._ids)}_{self._run}.{mime_type.rsplit('/', maxsplit=1)[-1].split(';', maxsplit=1)[0]}"
        self.files[name] = (data, mime_type)
        return f"{self.url}/api/files/{self.session}/{name}"

    async def file(self, request: web.Request) -> web.StreamResponse:
        """A file WAHA keeps (``GET /api/files/{session}/{name}``), with the API key."""
        self.calls += 1
        if request.headers.get("X-Api-Key") != self.api_key:
            return web.json_response({"message": "Unauthorized", "statusCode": 401}, status=401)
        if self.file_failures > 0:
            self.file_failures -= 1
            return web.json_response({"statusCode": 500, "message": "busy"}, status=500)
        found = self.files.get(request.match_info["name"])
        if request.match_info["session"] != self.session or found is None:
            error = {"code": 404, "key": "FILE_NOT_FOUND", "message": "File not found"}
            return web.json_response({"error": error}, status=404)
        self.file_downloads += 1
        data, mime_type = found
        return web.Response(body=data, content_type=mime_type.split(";")[0])

    # ------------------------------------------------------------------ webhooks

    def session_changed(self, status: str, *, at: datetime) -> dict[str, Any]:
        """The session becomes ``status`` (its sends answer 422 unless WORKING) and the
        ``session.status`` envelope WAHA sends to say so."""
        self.status = status
        return self.envelope("session.status", {"name": self.session, "status": status}, at=at)

    def envelope(self, event: str, payload: Mapping[str, Any], *, at: datetime) -> dict[str, Any]:
        return {
            "id": f"evt_{next(self._ids):026d}",
            "timestamp": int(at.timestamp() * 1000),
            "session": self.session,
            "engine": self.engine,
            "event": event,
            "payload": dict(payload),
            "me": {"id": "15550000000@c.us", "pushName": "waport"},
        }


def sign(body: bytes, key: str = HMAC_KEY) -> dict[str, str]:
    return {
        "X-Webhook-Hmac": hmac.new(key.encode(), body, hashlib.sha512).hexdigest(),
        "X-Webhook-Hmac-Algorithm": "sha512",
    }


@asynccontextmanager
async def open_fake_waha(**kwargs: Any) -> AsyncIterator[FakeWaha]:
    fake = FakeWaha(**kwargs)
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        yield fake
    finally:
        await runner.cleanup()


@attrs.define
class WebHarness:
    provider: WahaProvider
    fake: FakeWaha

    @property
    def sender_id(self) -> str:
        return SESSION

    @property
    def template(self) -> TemplateSpec | None:
        return None

    @property
    def remote_calls(self) -> int:
        return self.fake.calls

    @property
    def supported_failures(self) -> frozenset[RemoteFailure]:
        return frozenset(
            {
                RemoteFailure.AUTH,
                RemoteFailure.RATE_LIMIT,
                RemoteFailure.SERVER_ERROR,
                RemoteFailure.TIMEOUT,
                RemoteFailure.MALFORMED,
            }
        )

    def script_failure(self, kind: RemoteFailure) -> None:
        self.fake.failures.append(kind)

    def seed_media(self, data: bytes, mime_type: str) -> str:
        return self.fake.keep_file(data, mime_type)

    def sent(self) -> Sequence[Mapping[str, str]]:
        out = []
        for path, body in self.fake.sent:
            chat = body.get("chatId") or str(body.get("messageId", "__")).split("_")[1]
            out.append({"to": chat.removesuffix("@c.us"), "mode": _MODES[path]})
        return out

    def _signed(
        self, event: str, payload: Mapping[str, Any], at: datetime
    ) -> tuple[dict[str, str], bytes]:
        body = json.dumps(self.fake.envelope(event, payload, at=at)).encode()
        return sign(body), body

    def status_webhook(
        self, provider_message_id: str, status: MessageStatus, *, at: datetime
    ) -> tuple[dict[str, str], bytes]:
        ack, name = _ACK_NAMES[status]
        chat = "255712345678@c.us"
        payload = {
            "id": f"true_{chat}_{provider_message_id}",
            "from": "15550000000@c.us",
            "to": chat,
            "fromMe": True,
            "ack": ack,
            "ackName": name,
        }
        return self._signed("message.ack", payload, at)

    def inbound_webhook(
        self, *, contact: Recipient, text: str, provider_message_id: str, at: datetime
    ) -> tuple[dict[str, str], bytes]:
        chat = wire.chat_id(contact)
        payload = {
            "id": f"false_{chat}_{provider_message_id}",
            "timestamp": int(at.timestamp()),
            "from": chat,
            "fromMe": False,
            "source": "app",
            "to": "15550000000@c.us",
            "body": text,
            "hasMedia": False,
            "ack": 1,
        }
        return self._signed("message", payload, at)


@asynccontextmanager
async def web_harness(
    *, request_timeout: float = 1.0, **provider: Any
) -> AsyncIterator[WebHarness]:
    async with open_fake_waha() as fake, aiohttp.ClientSession() as http:
        waha = WahaProvider(
            http=http,
            clock=FakeClock(),
            url=fake.url,
            session=SESSION,
            api_key=API_KEY,
            hmac_key=HMAC_KEY,
            timeout=request_timeout,
            **provider,
        )
        yield WebHarness(provider=waha, fake=fake)


def main() -> None:  # pragma: no cover - a process for harnesses and manual tests
    """``python -m waport_web.fake --port 3000``: serve a FakeWaha until interrupted
    (API key ``test-waha-key``, session ``default``); needs only waport's runtime
    dependencies."""
    import argparse

    parser = argparse.ArgumentParser(description="a fake WAHA (WhatsApp HTTP API) on 127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args()
    fake = FakeWaha(url=f"http://127.0.0.1:{args.port}")
    print(f"fake WAHA on {fake.url} (X-Api-Key: {API_KEY}, session: {SESSION})", flush=True)
    web.run_app(fake.app(), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":  # pragma: no cover
    main()
