"""Hostile input: arbitrary, oversized, deeply nested and broken bodies into both webhook
parsers and into every POST route of the gateway over real HTTP. Always a clean 4xx with a
stable code (or a success), never a 5xx, never a hang."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.adapters.http.conftest import open_harness
from waport import ErrorCode, InboundMessage, StatusUpdate, WaportError
from waport.domain.records import SCOPES
from waport.testing import FakeClock
from waport.testing.strategies import json_values
from waport_meta.fake import APP_SECRET, PHONE_NUMBER_ID
from waport_meta.fake import sign as meta_sign
from waport_meta.provider import MetaCloudProvider
from waport_web.fake import HMAC_KEY
from waport_web.fake import sign as waha_sign
from waport_web.provider import WahaProvider

from .conftest import scaled

CODES = {c.value for c in ErrorCode}
DEEP = 10_000


def meta() -> MetaCloudProvider:
    return MetaCloudProvider(
        http=None,  # type: ignore[arg-type] - parsing makes no calls
        clock=FakeClock(),
        token="t",
        phone_number_ids=(PHONE_NUMBER_ID,),
        app_secret=APP_SECRET,
        verify_token="v",
    )


def waha() -> WahaProvider:
    return WahaProvider(http=None, clock=FakeClock(), url="http://x", hmac_key=HMAC_KEY)  # type: ignore[arg-type]


def _events_or_rejection(parse: Any, headers: dict[str, str], body: bytes) -> None:
    try:
        events = parse(headers, body)
    except WaportError as err:
        assert err.code in (ErrorCode.VALIDATION_FAILED, ErrorCode.INVALID_SIGNATURE)
    else:
        assert all(isinstance(e, InboundMessage | StatusUpdate) for e in events)


# Payloads shaped like the real ones, with arbitrary values where the fields are: the
# parsers' field handling is exercised, not only their first isinstance check.
leaf = json_values | st.sampled_from(["", "0", "1700000000", "255712345678", "wamid.X", "@lid"])
meta_message = st.dictionaries(
    st.sampled_from(
        [
            *("from", "id", "timestamp", "type", "text", "image", "context", "reaction"),
            *("button", "interactive", "location", "contacts", "errors", "referral", "audio"),
            "document",
        ]
    ),
    leaf,
    max_size=8,
)
meta_status = st.dictionaries(
    st.sampled_from(
        [
            *("id", "status", "timestamp", "recipient_id", "errors", "conversation"),
            *("pricing", "biz_opaque_callback_data"),
        ]
    ),
    leaf,
    max_size=7,
)
meta_bodies = st.builds(
    lambda messages, statuses, extra: {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"phone_number_id": PHONE_NUMBER_ID},
                            "messages": messages,
                            "statuses": statuses,
                            **extra,
                        },
                    }
                ],
            }
        ],
    },
    st.lists(meta_message, max_size=3) | leaf,
    st.lists(meta_status, max_size=3) | leaf,
    st.dictionaries(st.sampled_from(["contacts", "errors"]), leaf, max_size=2),
)
waha_bodies = st.builds(
    lambda event, payload: {
        "id": "evt_1",
        "event": event,
        "session": "default",
        "payload": payload,
    },
    st.sampled_from(["message", "message.any", "message.reaction", "message.ack", "session.status"])
    | st.text(max_size=10),
    st.dictionaries(
        st.sampled_from(
            [
                *("id", "from", "to", "fromMe", "body", "timestamp", "ack", "ackName"),
                *("hasMedia", "media", "reaction", "replyTo", "participant", "_data", "vCards"),
            ]
        ),
        leaf,
        max_size=8,
    )
    | leaf,
)


@given(meta_bodies)
@settings(max_examples=scaled(400, 20_000), deadline=None)
def test_meta_parser_takes_any_shaped_payload(body: Any) -> None:
    raw = json.dumps(body).encode()
    _events_or_rejection(meta().parse_webhook, meta_sign(raw), raw)


@given(waha_bodies)
@settings(max_examples=scaled(400, 20_000), deadline=None)
def test_waha_parser_takes_any_shaped_payload(body: Any) -> None:
    raw = json.dumps(body).encode()
    _events_or_rejection(waha().parse_webhook, waha_sign(raw), raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * DEEP + b"]" * DEEP,
        b'{"a":' * DEEP + b"1" + b"}" * DEEP,
        b'{"entry": "' + b"x" * (3 * 1024 * 1024) + b'"}',
        b"\xff\xfe\x00not utf-8",
        b"",
        b"null",
    ],
    ids=["deep-list", "deep-object", "3MB-string", "invalid-utf8", "empty", "null"],
)
def test_signed_hostile_bodies_are_rejected_cleanly(raw: bytes) -> None:
    _events_or_rejection(meta().parse_webhook, meta_sign(raw), raw)
    _events_or_rejection(waha().parse_webhook, waha_sign(raw), raw)


# --------------------------------------------------------------------- over real HTTP


@contextmanager
def served() -> Iterator[tuple[str, str]]:
    """A gateway (a SQLite database, the sandbox) on 127.0.0.1, served from its own
    thread so Hypothesis can drive it with plain blocking requests. SQLite, not memory:
    what a body holds must also survive being encoded for the database."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        folder = tempfile.mkdtemp(prefix="waport-hostile-")
        async with open_harness({"WAPORT_DATABASE": f"{folder}/waport.db"}) as harness:
            box["base"] = harness.base
            box["key"] = await harness.key(set(SCOPES), rate=1_000_000)
            # an open window: free-form bodies get as far as the store
            await harness.post("/v1/sandbox/inbound", {"from": "255712345678", "text": "hi"})
            stop = anyio.Event()
            box["stop"] = (asyncio.get_running_loop(), stop)
            ready.set()
            await stop.wait()

    # the server thread outlives each test's log capture: keep its access log quiet
    access = logging.getLogger("aiohttp.access")
    was_disabled, access.disabled = access.disabled, True
    thread = threading.Thread(target=anyio.run, args=(main,), daemon=True)
    thread.start()
    assert ready.wait(30), "the gateway did not start"
    try:
        yield box["base"], box["key"]
    finally:
        loop, stop = box["stop"]
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        access.disabled = was_disabled


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[str, str]]:
    with served() as running:
        yield running


ROUTES = [
    "/v1/messages",
    "/v1/broadcasts",
    "/v1/messages/msg_x/read",
    "/v1/templates/sync",
    "/v1/keys",
    "/v1/sandbox/inbound",
    "/v1/sandbox/script",
    "/webhooks/meta",
    "/webhooks/web",
    "/webhooks/sandbox",
]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=x",
    None,
]
bodies = (
    json_values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=300)
    | st.sampled_from(
        [
            b"[" * DEEP + b"]" * DEEP,
            b'{"to": "255712345678", "text": "\xff\xfe"}',
            b'{"to": "255712345678", "text": "x", "text": "y"}',
            b'{"to": 1e999}',
            b'--x\r\nContent-Disposition: form-data; name="to"\r\n\r\n1\r\n--x--\r\n',
        ]
    )
)


# JSON text with lone surrogates (json.dumps writes them as \\udXXX escapes), in values
# and in keys, where the first round's error handler itself failed
surrogate_text = st.text(
    alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF) | st.characters(),
    min_size=1,
    max_size=12,
)
surrogate_bodies = (
    (
        # bodies that reach the store unless refused: an inbound text, a template's metadata
        st.builds(
            lambda value, who: json.dumps({who: "255712345678", "text": value}).encode(),
            surrogate_text,
            st.sampled_from(["to", "from"]),  # a send, or an inbound on the sandbox
        )
        | st.builds(
            lambda value: json.dumps(
                {
                    "to": "255712345678",
                    "sender_id": "sandbox-sender",
                    "template": {"name": "hello_world", "language": "en_US"},
                    "metadata": {"order": value},
                }
            ).encode(),
            surrogate_text,
        )
    )
    | st.builds(
        lambda key, value: json.dumps(
            {"to": "255712345678", "text": {"body": value}, key: value}
        ).encode(),
        surrogate_text,
        surrogate_text,
    )
    | st.builds(
        lambda value: json.dumps(
            {"to": value, "template": {"name": value, "language": "en_US"}}
        ).encode(),
        surrogate_text,
    )
)


@given(st.sampled_from(ROUTES), surrogate_bodies)
@settings(
    max_examples=scaled(300, 10_000),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_lone_surrogates_anywhere_in_json_are_never_a_5xx(
    gateway: tuple[str, str], route: str, body: bytes
) -> None:
    base, key = gateway
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    status, raw = post(base + route, body, headers)
    assert status < 500, (status, raw[:300])
    if status >= 400:
        assert json.loads(raw)["error"]["code"] in CODES


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@given(st.sampled_from(ROUTES), bodies, st.sampled_from(CONTENT_TYPES), st.booleans())
@settings(
    max_examples=scaled(500, 20_000),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_any_body_on_any_route_is_a_coded_4xx_or_a_success(
    gateway: tuple[str, str], route: str, body: bytes, content_type: str | None, authed: bool
) -> None:
    base, key = gateway
    headers = {"Authorization": f"Bearer {key}"} if authed else {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    status, raw = post(base + route, body, headers)
    assert status < 500, (status, raw[:300])
    if status >= 400:
        error = json.loads(raw)["error"]
        assert error["code"] in CODES


def test_oversized_bodies_are_413_before_being_read(gateway: tuple[str, str]) -> None:
    base, key = gateway
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    for route, limit in (
        ("/v1/broadcasts", 1024 * 1024),
        ("/v1/keys", 1024 * 1024),
        ("/webhooks/sandbox", 4 * 1024 * 1024),
    ):
        status, raw = post(base + route, b" " * (limit + 1), headers)
        assert status == 413, (route, status)
        assert json.loads(raw)["error"]["code"] == "PAYLOAD_TOO_LARGE"


# --------------------------------------------------------------------- hostile headers

HEADERS_READ = [
    b"Authorization",
    b"X-Api-Key",
    b"Idempotency-Key",
    b"Prefer",
    b"X-Request-Id",
    b"Content-Type",
    b"X-Hub-Signature-256",
    b"X-Sandbox-Signature",
    b"X-Webhook-Hmac",
    b"Host",
]
# any byte a header line can carry (CR and LF end it: they are the examples below)
header_values = st.binary(max_size=120).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


def raw_post(base: str, route: str, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    """One request written byte for byte: header values no client library would send."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    head = b"POST " + route.encode() + b" HTTP/1.1\r\n"
    names = {name.lower() for name, _ in headers}
    if b"host" not in names:
        head += b"Host: 127.0.0.1\r\n"
    for name, value in headers:
        head += name + b": " + value + b"\r\n"
    head += b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head + body)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def _check_answer(answer: bytes) -> None:
    status = int(answer.split(b" ", 2)[1])
    assert status < 500, answer[:400]
    head, _, payload = answer.partition(b"\r\n\r\n")
    if status >= 400 and b"application/json" in head.lower():
        assert json.loads(payload)["error"]["code"] in CODES


@given(
    st.sampled_from(ROUTES),
    st.lists(st.tuples(st.sampled_from(HEADERS_READ), header_values), min_size=1, max_size=4),
    st.booleans(),
)
@settings(
    max_examples=scaled(300, 10_000),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_arbitrary_bytes_in_any_header_the_gateway_reads_are_never_a_5xx(
    gateway: tuple[str, str], route: str, headers: list[tuple[bytes, bytes]], authed: bool
) -> None:
    base, key = gateway
    extra = [(b"Authorization", b"Bearer " + key.encode())] if authed else []
    body = json.dumps({"to": "255712345678", "text": {"body": "hi"}}).encode()
    _check_answer(raw_post(base, route, [*extra, *headers], body))


@pytest.mark.parametrize(
    "value",
    [b"a\rb", b"a\nb", b"x\r\n folded", b"\x00\x01\x7f", b"\xed\xa0\x80", b"\xff" * 8000],
    ids=["bare-cr", "bare-lf", "obs-fold", "controls", "surrogate-utf8", "8k-of-0xff"],
)
@pytest.mark.parametrize("name", HEADERS_READ, ids=lambda n: n.decode())
def test_line_breaking_and_oversized_header_values_are_never_a_5xx(
    gateway: tuple[str, str], name: bytes, value: bytes
) -> None:
    base, _ = gateway
    for route in ("/v1/messages", "/webhooks/sandbox"):
        _check_answer(raw_post(base, route, [(name, value)], b"{}"))
