"""The REST API over real HTTP: envelopes, auth, scopes, rate limits, idempotency, bodies."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

import aiohttp
import pytest

from waport import ErrorCode, WaportError
from waport_http.logs import redact
from waport_http.routes import operations

from .conftest import Harness, open_harness

pytestmark = pytest.mark.anyio
TO = "255712345678"
HELLO = {"name": "hello_world", "language": "en_US"}


def template_body(to: str = TO) -> dict[str, object]:
    return {"to": to, "sender_id": "sandbox-sender", "template": HELLO}


async def test_send_envelopes_and_request_ids(gw: Harness) -> None:
    status, body, headers = await gw.post("/v1/messages", template_body())
    assert status == 200
    assert body["status"] == "sent"
    assert body["data"]["message_id"].startswith("msg_")
    assert headers["X-Request-Id"]
    status, body, headers = await gw.post(
        "/v1/messages",
        {**template_body(), "scheduled_at": "2026-02-01T00:00:00Z"},
        **{"X-Request-Id": "my-trace-1"},
    )
    assert (status, body["status"], body["data"]["status"]) == (202, "pending", "scheduled")
    assert headers["X-Request-Id"] == "my-trace-1"
    status, body, _ = await gw.get(f"/v1/messages/{body['data']['message_id']}")
    assert status == 200
    assert [h["status"] for h in body["data"]["history"]] == ["scheduled"]


async def test_errors_use_the_envelope_with_a_code_and_param(gw: Harness) -> None:
    status, body, headers = await gw.post("/v1/messages", {"to": TO, "text": "x" * 4097})
    assert status == 400
    assert body["status"] == "error"
    assert body["error"] == {
        "code": "VALIDATION_FAILED",
        "message": body["error"]["message"],
        "param": "text.body",
    }
    assert body["correlation_id"] == headers["X-Request-Id"]
    status, body, _ = await gw.post("/v1/messages", {"to": TO})
    assert (status, body["error"]["code"]) == (400, "MODE_REQUIRED")
    status, body, _ = await gw.post("/v1/messages", {"to": TO, "text": "hi"})
    assert (status, body["error"]["code"]) == (422, "WINDOW_CLOSED")
    status, body, _ = await gw.get("/v1/messages/msg_nope")
    assert (status, body["error"]["code"]) == (404, "MESSAGE_NOT_FOUND")
    async with gw.http.get(gw.base + "/v1/unknown") as r:
        assert (r.status, (await r.json())["error"]["code"]) == (404, "NOT_FOUND")
    async with gw.http.put(gw.base + "/v1/messages", headers=gw.headers()) as r:
        assert (r.status, (await r.json())["error"]["code"]) == (405, "METHOD_NOT_ALLOWED")
        assert r.headers["Allow"] == "GET, HEAD, POST"  # what the endpoint does accept
    async with gw.http.delete(gw.base + "/v1/events/stream", headers=gw.headers()) as r:
        assert (r.status, r.headers["Allow"]) == (405, "GET, HEAD")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"X-Api-Key": "wpk_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB000000"},
    ],
)
async def test_every_auth_failure_is_the_same_401(gw: Harness, headers: dict[str, str]) -> None:
    async with gw.http.post(gw.base + "/v1/messages", json=template_body(), headers=headers) as r:
        body = await r.json()
        assert r.status == 401
        assert body["error"] == {
            "code": "INVALID_API_KEY",
            "message": "the API key is missing, malformed, unknown or revoked",
            "param": None,
        }


async def test_unknown_and_revoked_keys_are_the_same_401(gw: Harness) -> None:
    key = await gw.key({"messages:send"})
    wrong = key[:-7] + ("A" if key[-7] != "A" else "B") + key[-6:]
    status, body, _ = await gw.post("/v1/messages", template_body(), key=wrong)
    assert (status, body["error"]["code"]) == (401, "INVALID_API_KEY")
    status, _, _ = await gw.post("/v1/messages", template_body(), key=key)
    assert status == 200
    key_id = key.split("_")[1]
    async with gw.http.delete(f"{gw.base}/v1/keys/{key_id}", headers=gw.headers()) as r:
        assert r.status == 200
    status, body, _ = await gw.post("/v1/messages", template_body(), key=key)
    assert (status, body["error"]["code"]) == (401, "INVALID_API_KEY")


async def test_scopes_and_sender_restrictions(gw: Harness) -> None:
    reader = await gw.key({"messages:read"})
    status, body, _ = await gw.post("/v1/messages", template_body(), key=reader)
    assert (status, body["error"]["code"]) == (403, "INSUFFICIENT_SCOPE")
    pinned = await gw.key({"messages:send"}, senders={"other-sender"})
    status, body, _ = await gw.post("/v1/messages", template_body(), key=pinned)
    assert (status, body["error"]["code"]) == (403, "FORBIDDEN")
    status, body, _ = await gw.post("/v1/keys", {"scopes": ["messages:read"]}, key=reader)
    assert (status, body["error"]["code"]) == (403, "INSUFFICIENT_SCOPE")


async def test_another_workspaces_message_is_404_on_get_and_403_on_read(gw: Harness) -> None:
    from waport.domain.records import Workspace

    await gw.running.store.workspaces.put(Workspace(id="other"))
    foreign = await gw.key({"messages:read", "messages:send"}, workspace="other")
    status, body, _ = await gw.post("/v1/sandbox/inbound", {"from": TO, "text": "hi"})
    inbound_id = body["data"]["message_id"]
    status, body, _ = await gw.get(f"/v1/messages/{inbound_id}", key=foreign)
    assert (status, body["error"]["code"]) == (404, "MESSAGE_NOT_FOUND")
    status, body, _ = await gw.post(f"/v1/messages/{inbound_id}/read", {}, key=foreign)
    assert (status, body["error"]["code"]) == (403, "FORBIDDEN")
    status, body, _ = await gw.post(f"/v1/messages/{inbound_id}/read", {})
    assert (status, body["data"]["status"]) == (200, "read")
    status, body, _ = await gw.post("/v1/messages/msg_unknown/read", {})
    assert (status, body["error"]["code"]) == (422, "INVALID_MESSAGE")


async def test_a_read_receipt_takes_typing_and_nothing_else(gw: Harness) -> None:
    status, body, _ = await gw.post("/v1/sandbox/inbound", {"from": TO, "text": "hi"})
    path = f"/v1/messages/{body['data']['message_id']}/read"
    for wrong, param in (({"typing": "yes"}, "typing"), ({"typnig": True}, "typnig")):
        status, body, _ = await gw.post(path, wrong)
        assert (status, body["error"]["code"], body["error"]["param"]) == (
            400,
            "VALIDATION_FAILED",
            param,
        )
    status, body, _ = await gw.post(path, {"typing": True})
    assert (status, body["data"]["status"]) == (200, "read")
    assert gw.running.provider.marked_read  # the sandbox was told (with typing)


async def test_rate_limit_headers_on_every_response_and_429(gw: Harness) -> None:
    key = await gw.key({"messages:read"}, rate=3)
    now = int(gw.clock.now().timestamp())
    seen = []
    for _ in range(3):
        status, _, headers = await gw.get("/v1/window-status?to=255712345678", key=key)
        seen.append((status, headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]))
        assert now <= int(headers["X-RateLimit-Reset"]) <= now + 60
        assert headers["RateLimit-Policy"] == '"default";q=3;w=60'
    assert seen == [(200, "3", "2"), (200, "3", "1"), (200, "3", "0")]
    status, body, headers = await gw.get("/v1/window-status?to=255712345678", key=key)
    assert (status, body["error"]["code"]) == (429, "RATE_LIMITED")
    assert headers["Retry-After"] == "20"
    assert headers["X-RateLimit-Remaining"] == "0"
    gw.clock.advance(20)
    status, _, _ = await gw.get("/v1/window-status?to=255712345678", key=key)
    assert status == 200
    # error responses carry the headers too
    status, _, headers = await gw.get("/v1/window-status", key=key)
    assert status == 429 or "X-RateLimit-Limit" in headers


async def test_default_limit_is_60_per_minute(gw: Harness) -> None:
    key = await gw.key({"messages:read"})
    statuses = [(await gw.get("/v1/window-status?to=255712345678", key=key))[0] for _ in range(61)]
    assert statuses.count(200) == 60
    assert statuses[-1] == 429


async def test_idempotent_replay_is_byte_identical(gw: Harness) -> None:
    bodies = []
    for _ in range(5):
        async with gw.http.post(
            gw.base + "/v1/messages",
            json=template_body(),
            headers=gw.headers(**{"Idempotency-Key": "order-42"}),
        ) as r:
            bodies.append((r.status, await r.read(), r.headers.get("Idempotent-Replayed")))
    assert bodies[0][2] is None
    assert all(b[:2] == bodies[0][:2] for b in bodies)
    assert all(b[2] == "true" for b in bodies[1:])
    assert len(gw.running.provider.sandbox.sent) == 1  # type: ignore[union-attr]
    # key order and whitespace do not make another body
    reordered = json.dumps({"template": HELLO, "sender_id": "sandbox-sender", "to": TO}, indent=2)
    async with gw.http.post(
        gw.base + "/v1/messages",
        data=reordered,
        headers=gw.headers(**{"Idempotency-Key": "order-42", "Content-Type": "application/json"}),
    ) as r:
        assert r.headers.get("Idempotent-Replayed") == "true"
    status, body, _ = await gw.post(
        "/v1/messages", template_body("255700000001"), **{"Idempotency-Key": "order-42"}
    )
    assert (status, body["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")


async def test_prefer_respond_async_answers_once_stored(gw: Harness) -> None:
    sandbox = gw.running.provider.sandbox  # type: ignore[attr-defined]
    status, body, headers = await gw.post(
        "/v1/messages", template_body(), Prefer='wait=10, Respond-Async; x="y"'
    )
    assert (status, body["status"], body["data"]["status"]) == (202, "pending", "pending")
    assert headers["Preference-Applied"] == "respond-async"
    assert sandbox.sent == []  # stored, not yet attempted: the dispatcher sends it
    await gw.running.messenger.dispatch_once()
    assert len(sandbox.sent) == 1
    _, stored, _ = await gw.get(f"/v1/messages/{body['data']['message_id']}")
    assert stored["data"]["status"] == "sent"
    # other preferences change nothing
    status, body, headers = await gw.post(
        "/v1/messages", template_body("255700000002"), Prefer="return=minimal"
    )
    assert (status, body["status"]) == (200, "sent")
    assert "Preference-Applied" not in headers


async def test_idempotency_keys_are_scoped_per_api_key(gw: Harness) -> None:
    other = await gw.key({"messages:send"})
    s1, b1, _ = await gw.post("/v1/messages", template_body(), **{"Idempotency-Key": "k"})
    s2, b2, _ = await gw.post(
        "/v1/messages", template_body(), key=other, **{"Idempotency-Key": "k"}
    )
    assert (s1, s2) == (200, 200)
    assert b1["data"]["message_id"] != b2["data"]["message_id"]


async def test_idempotency_in_progress_is_409_with_retry_after(gw: Harness) -> None:
    import anyio

    gw.running.provider.sandbox.script(delay_ms=800)  # type: ignore[union-attr]
    results: list[tuple[int, str | None, str | None]] = []

    async def call() -> None:
        async with gw.http.post(
            gw.base + "/v1/messages",
            json=template_body(),
            headers=gw.headers(**{"Idempotency-Key": "slow"}),
        ) as r:
            body = await r.json()
            results.append(
                (r.status, body.get("error", {}).get("code"), r.headers.get("Retry-After"))
            )

    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        await anyio.sleep(0.3)
        tg.start_soon(call)
    statuses = sorted(r[0] for r in results)
    assert statuses == [200, 409]
    conflict = next(r for r in results if r[0] == 409)
    assert conflict[1] == "IDEMPOTENCY_IN_PROGRESS"
    assert conflict[2] is not None
    assert int(conflict[2]) >= 1


async def test_validation_failures_are_not_recorded(gw: Harness) -> None:
    status, _, _ = await gw.post(
        "/v1/messages", {"to": TO, "text": ""}, **{"Idempotency-Key": "fixable"}
    )
    assert status == 400
    status, _body, headers = await gw.post(
        "/v1/messages", template_body(), **{"Idempotency-Key": "fixable"}
    )
    assert status == 200
    assert headers.get("Idempotent-Replayed") is None


async def test_idempotency_expires_after_24_hours(gw: Harness) -> None:
    _, first, _ = await gw.post("/v1/messages", template_body(), **{"Idempotency-Key": "day"})
    gw.clock.advance(hours=23, minutes=59)
    _, again, headers = await gw.post("/v1/messages", template_body(), **{"Idempotency-Key": "day"})
    assert headers.get("Idempotent-Replayed") == "true"
    assert again == first
    gw.clock.advance(minutes=2)
    _, fresh, headers = await gw.post("/v1/messages", template_body(), **{"Idempotency-Key": "day"})
    assert headers.get("Idempotent-Replayed") is None
    assert fresh["data"]["message_id"] != first["data"]["message_id"]


@pytest.mark.parametrize("key", ["", " " * 3, "x" * 256, "caf\u00e9"])
async def test_bad_idempotency_keys(gw: Harness, key: str) -> None:
    async with gw.http.post(
        gw.base + "/v1/messages",
        json=template_body(),
        headers={**gw.headers(), "Idempotency-Key": key.encode("utf-8").decode("latin-1")},
    ) as r:
        body = await r.json()
        assert (r.status, body["error"]["code"], body["error"]["param"]) == (
            400,
            "VALIDATION_FAILED",
            "Idempotency-Key",
        )


async def test_hostile_bodies_get_4xx(gw: Harness) -> None:
    cases: list[tuple[bytes, str, int, str]] = [
        (b"not json", "application/json", 400, "VALIDATION_FAILED"),
        (b"\xff\xfe{}", "application/json", 400, "VALIDATION_FAILED"),
        (b"[" * 10_000 + b"]" * 10_000, "application/json", 400, "VALIDATION_FAILED"),
        (
            json.dumps({"to": TO, "text": "hi"}).encode(),
            "text/plain",
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (b"[]", "application/json", 400, "VALIDATION_FAILED"),
        (b"null", "application/json", 400, "VALIDATION_FAILED"),
        # Python's parser takes these; JSON (RFC 8259) has no such values
        (
            b'{"to": "%s", "text": "hi", "metadata": {"x": NaN}}' % TO.encode(),
            "application/json",
            400,
            "VALIDATION_FAILED",
        ),
        (
            b'{"to": "%s", "text": "hi", "metadata": {"x": -Infinity}}' % TO.encode(),
            "application/json",
            400,
            "VALIDATION_FAILED",
        ),
        (b"{" + b'"a":' * 40 + b"1" + b"}" * 40, "application/json", 400, "VALIDATION_FAILED"),
    ]
    for data, ctype, status, code in cases:
        async with gw.http.post(
            gw.base + "/v1/messages", data=data, headers={**gw.headers(), "Content-Type": ctype}
        ) as r:
            assert (r.status, (await r.json())["error"]["code"]) == (status, code), data[:20]


async def test_body_size_limits() -> None:
    async with open_harness({"WAPORT_MAX_BODY_BYTES": "1024"}) as gw:
        big = {
            "template": HELLO,
            "sender_id": "sandbox-sender",
            "recipients": [{"to": TO}],
            "metadata": {"x": "y" * 2000},
        }
        status, body, _ = await gw.post("/v1/broadcasts", big)
        assert (status, body["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")


async def test_multipart_media_upload_is_checked_while_streaming(gw: Harness) -> None:
    await gw.post("/v1/sandbox/inbound", {"from": TO, "text": "hi"})
    form = aiohttp.FormData()
    form.add_field("to", TO)
    form.add_field("caption", "a photo")
    form.add_field(
        "file", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, filename="a.png", content_type="image/png"
    )
    async with gw.http.post(gw.base + "/v1/messages", data=form, headers=gw.headers()) as r:
        body = await r.json()
        assert r.status == 200, body
        assert body["data"]["mode"] == "media"
    sent = gw.running.provider.sandbox.sent[-1]  # type: ignore[union-attr]
    assert sent.message.content.caption == "a photo"  # type: ignore[union-attr]
    big = aiohttp.FormData()
    big.add_field("to", TO)
    big.add_field("type", "image")
    big.add_field(
        "file",
        io.BytesIO(b"\0" * (5 * 1024 * 1024 + 10)),
        filename="big.png",
        content_type="image/png",
    )
    async with gw.http.post(gw.base + "/v1/messages", data=big, headers=gw.headers()) as r:
        body = await r.json()
        assert (r.status, body["error"]["code"], body["error"]["param"]) == (
            400,
            "MEDIA_TOO_LARGE",
            "file",
        )


async def test_multipart_template_header_media(gw: Harness) -> None:
    from waport.domain.templates import HeaderFormat, spec_from_text

    spec = spec_from_text(
        sender_id="sandbox-sender",
        name="promo",
        language="en_US",
        body="Hi {{1}}",
        header_format=HeaderFormat.IMAGE,
    )
    await gw.running.store.templates.put(spec)
    gw.running.provider.sandbox.templates["sandbox-sender"].append(spec)  # type: ignore[union-attr]
    form = aiohttp.FormData()
    form.add_field("to", TO)
    form.add_field("sender_id", "sandbox-sender")
    form.add_field(
        "template", json.dumps({"name": "promo", "language": "en_US", "params": ["Ana"]})
    )
    form.add_field(
        "header_file", b"\xff\xd8\xff" + b"\0" * 50, filename="h.jpg", content_type="image/jpeg"
    )
    async with gw.http.post(gw.base + "/v1/messages", data=form, headers=gw.headers()) as r:
        assert r.status == 200, await r.text()


async def test_broadcast_200_and_207(gw: Harness) -> None:
    recipients = [{"to": f"25570000{i:04d}"} for i in range(10)]
    status, body, _ = await gw.post(
        "/v1/broadcasts",
        {"template": HELLO, "sender_id": "sandbox-sender", "recipients": recipients},
    )
    assert status == 200
    assert body["data"]["summary"] == {"total": 10, "sent": 10, "pending": 0, "failed": 0}
    await gw.post(
        "/v1/sandbox/script", {"to": "255700000003", "fail_with": "RECIPIENT_NOT_ON_WHATSAPP"}
    )
    recipients = [{"to": f"25570000{i:04d}"} for i in range(5)]
    status, body, _ = await gw.post(
        "/v1/broadcasts",
        {"template": HELLO, "sender_id": "sandbox-sender", "recipients": recipients},
    )
    assert (status, body["status"]) == (207, "partial")
    assert body["data"]["summary"]["failed"] == 1
    failed = [r for r in body["data"]["results"] if r["status"] == "failed"]
    assert failed[0]["error"]["code"] == "RECIPIENT_NOT_ON_WHATSAPP"
    status, again, _ = await gw.get(f"/v1/broadcasts/{body['data']['broadcast_id']}")
    assert again["data"]["summary"] == body["data"]["summary"]
    status, body, _ = await gw.post(
        "/v1/broadcasts",
        {
            "template": HELLO,
            "sender_id": "sandbox-sender",
            "recipients": [{"to": TO}, {"to": "+" + TO}],
        },
    )
    assert (status, body["error"]["code"], body["error"]["param"]) == (
        422,
        "DUPLICATE_RECIPIENT",
        "recipients[1].to",
    )


async def test_broadcast_with_prefer_respond_async_is_202_and_sent_by_the_dispatcher(
    gw: Harness,
) -> None:
    sandbox = gw.running.provider.sandbox  # type: ignore[attr-defined]
    recipients = [{"to": f"25571000{i:04d}"} for i in range(4)]
    status, body, headers = await gw.post(
        "/v1/broadcasts",
        {"template": HELLO, "sender_id": "sandbox-sender", "recipients": recipients},
        Prefer="respond-async",
    )
    assert (status, body["status"]) == (202, "pending")
    assert body["data"]["summary"] == {"total": 4, "sent": 0, "pending": 4, "failed": 0}
    assert headers["Preference-Applied"] == "respond-async"
    assert sandbox.sent == []
    await gw.running.messenger.dispatch_once()
    assert len(sandbox.sent) == 4
    _, again, _ = await gw.get(f"/v1/broadcasts/{body['data']['broadcast_id']}")
    assert again["data"]["summary"]["sent"] == 4
    # a row refused before sending still makes it a 207, queued or not
    status, body, _ = await gw.post(
        "/v1/broadcasts",
        {
            "template": {"name": "order_update", "language": "en_US"},  # parameters missing
            "sender_id": "sandbox-sender",
            "recipients": [{"to": "255711000001"}],
        },
        Prefer="respond-async",
    )
    assert (status, body["status"], body["data"]["summary"]["failed"]) == (207, "partial", 1)


async def test_templates_and_keys_endpoints(gw: Harness) -> None:
    status, body, _ = await gw.get("/v1/templates")
    assert status == 200
    assert {t["name"] for t in body["data"]} == {"hello_world", "order_update", "spring_sale"}
    status, body, _ = await gw.post("/v1/templates/sync", {})
    assert body["data"]["synced"] == {"sandbox-sender": 3}
    status, body, _ = await gw.post("/v1/templates/sync", {"sender": "sandbox-sender"})
    assert (status, body["error"]["param"]) == (400, "sender")  # as every body: known fields
    status, body, _ = await gw.post("/v1/keys", {"scopes": ["messages:read"], "label": "reporting"})
    assert status == 201
    new_key = body["data"]["key"]
    status, _, _ = await gw.get("/v1/window-status?to=255712345678", key=new_key)
    assert status == 200
    status, body, _ = await gw.post("/v1/keys", {"scopes": ["root"]})
    assert (status, body["error"]["param"]) == (400, "scopes")


async def test_sandbox_controls(gw: Harness) -> None:
    status, body, _ = await gw.post(
        "/v1/sandbox/script", {"to": TO, "fail_with": "RATE_LIMITED", "retry_after": 30}
    )
    assert status == 200
    status, body, _ = await gw.post("/v1/messages", template_body())
    assert (status, body["status"]) == (202, "pending")
    status, body, _ = await gw.post("/v1/sandbox/script", {"fail_with": "NOPE"})
    assert (status, body["error"]["param"]) == (400, "fail_with")
    for numbers, said in (
        ({"times": 0}, "times is an integer from 1 to 10000"),
        ({"times": 2.5}, "times is an integer from 1 to 10000"),
        ({"delay_ms": -1}, "delay_ms is a number from 0 to 600000"),
        ({"retry_after": True}, "retry_after is a number from 0 to 86400"),
    ):
        status, body, _ = await gw.post(
            "/v1/sandbox/script", {"fail_with": "RATE_LIMITED", **numbers}
        )
        assert (status, body["error"]["message"]) == (400, said)
    status, body, _ = await gw.post("/v1/sandbox/inbound", {"from": "abc", "text": "x"})
    assert (status, body["error"]["code"], body["error"]["param"]) == (
        400,
        "INVALID_RECIPIENT",
        "from",
    )


async def test_openapi_and_health(gw: Harness) -> None:
    async with gw.http.get(gw.base + "/openapi.json") as r:
        doc = await r.json()
        assert doc["openapi"] == "3.1.0"
        assert "/v1/messages" in doc["paths"]
        codes = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"][
            "enum"
        ]
        assert set(codes) == {c.value for c in ErrorCode}
    async with gw.http.get(gw.base + "/healthz") as r:
        assert (r.status, (await r.json())["data"]) == (200, {"store": "ok", "provider": "ok"})


def test_a_health_check_that_timed_out_says_so() -> None:
    assert operations.failing(TimeoutError()) == "failing: no answer within 5 s"
    refused = WaportError(ErrorCode.PROVIDER_UNAVAILABLE, "cannot reach Meta: ClientError")
    assert (
        operations.failing(refused)
        == "failing: PROVIDER_UNAVAILABLE: cannot reach Meta: ClientError"
    )


async def test_window_status_endpoint(gw: Harness) -> None:
    status, body, _ = await gw.get("/v1/window-status?to=%2B255%20712%20345%20678")
    assert body["data"]["reason"] == "no_inbound_history"
    await gw.post("/v1/sandbox/inbound", {"from": TO, "text": "hi"})
    gw.clock.advance(timedelta(hours=1).total_seconds())
    status, body, _ = await gw.get(f"/v1/window-status?to={TO}&from=sandbox-sender")
    assert body["data"]["within_window"] is True
    assert body["data"]["hours_since_last_inbound"] == 1.0
    status, body, _ = await gw.get("/v1/window-status")
    assert (status, body["error"]["param"]) == (400, "to")
    # query parameters are read as strictly as body fields
    for query, param, said in (
        (f"to={TO}&to=255700000001", "to", "give to once"),
        (f"to={TO}&sender=sandbox-sender", "sender", "unknown query parameter 'sender'"),
    ):
        status, body, _ = await gw.get(f"/v1/window-status?{query}")
        assert (status, body["error"]["code"]) == (400, "VALIDATION_FAILED")
        assert (body["error"]["param"], body["error"]["message"]) == (param, said)
    status, body, _ = await gw.get("/v1/templates?sender=sandbox-sender")
    assert (status, body["error"]["param"]) == (400, "sender")


async def test_the_access_log_is_a_line_per_request_when_asked_for(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="waport.http")
    async with open_harness({"WAPORT_ACCESS_LOG": "true"}) as gw:
        status, body, headers = await gw.post("/v1/messages", {"to": TO, "text": "hi"})
        assert status == 422
        await gw.get("/v1/window-status?to=255712345678")
    lines = [r.getMessage() for r in caplog.records if r.name == "waport.http"]
    assert len(lines) == 2
    method, route, code, error, in_, ms, unit, rid = lines[0].split(" ")
    assert (method, route, code, error) == ("POST", "/v1/messages", "422", "WINDOW_CLOSED")
    assert (in_, unit) == ("in", "ms")
    assert float(ms) >= 0
    assert rid == f"({headers['X-Request-Id']})" == f"({body['correlation_id']})"
    assert lines[1].startswith("GET /v1/window-status 200 in ")
    slow = "GET /v1/window-status 200 in 12345.6 ms (req_01ABC)"  # the masking leaves it be
    assert redact(slow) == slow
    caplog.clear()
    async with open_harness() as gw:  # off by default
        await gw.get("/v1/window-status?to=255712345678")
    assert not [r for r in caplog.records if r.name == "waport.http"]


async def test_a_refused_multipart_send_leaves_no_media_behind(gw: Harness) -> None:
    """The file streams into the media store before the rest is checked; a send
    refused after it (here an invalid recipient) deletes it again."""
    form = aiohttp.FormData()
    form.add_field("to", "not a number")
    form.add_field(
        "file", b"\x89PNG\r\n\x1a\n" + b"\1" * 100, filename="a.png", content_type="image/png"
    )
    async with gw.http.post(gw.base + "/v1/messages", data=form, headers=gw.headers()) as r:
        body = await r.json()
        assert r.status == 400, body
    media = gw.running.store.media
    assert media._objects == {}  # type: ignore[attr-defined]
    assert media._blobs == {}  # type: ignore[attr-defined]


async def test_whether_a_number_has_whatsapp(gw: Harness) -> None:
    path = f"/v1/contacts/{TO}/whatsapp"
    status, body, _ = await gw.get(path)
    assert (status, body["data"]["on_whatsapp"]) == (200, True)
    from waport.domain.recipients import parse_recipient

    gw.running.provider.not_on_whatsapp.add(parse_recipient(TO))  # type: ignore[attr-defined]
    status, body, _ = await gw.get(path)
    assert (status, body["data"]["on_whatsapp"]) == (200, False)
    status, body, _ = await gw.get(path + "?sender_id=nobody")
    assert (status, body["error"]["code"]) == (422, "SENDER_NOT_FOUND")
