"""Hostile requests against a real ``waport serve`` (issue 23): each answers a coded 4xx,
never a 500 with a traceback, and no key can lock its workspace out or outgrow its maker."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from waport_meta import fake as meta_fake

from .conftest import Server, free_port, rss_kib, waport_serve

pytestmark = pytest.mark.anyio
CONTACT = "255712345678"


async def raw_request(server: Server, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """One request written byte for byte (header values no client library would send)."""
    port = int(server.base.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
        writer.write(body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


@contextmanager
def meta_fake_process() -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "waport_meta.fake", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def gateway(folder: Path, provider: str) -> Iterator[Server]:
    if provider == "meta":
        with meta_fake_process() as graph:
            env = {
                "WAPORT_PROVIDER": "meta",
                "WAPORT_META_TOKEN": meta_fake.TOKEN,
                "WAPORT_META_PHONE_NUMBER_IDS": meta_fake.PHONE_NUMBER_ID,
                "WAPORT_META_WABA_ID": meta_fake.WABA_ID,
                "WAPORT_META_APP_SECRET": meta_fake.APP_SECRET,
                "WAPORT_META_GRAPH_URL": graph,
            }
            with waport_serve(folder, env) as server:
                yield server
    elif provider == "web":
        env = {
            "WAPORT_PROVIDER": "web",
            "WAPORT_WEB_URL": f"http://127.0.0.1:{free_port()}",  # never called here
            "WAPORT_WEB_HMAC_KEY": "hmac-key",
        }
        with waport_serve(folder, env) as server:
            yield server
    else:
        with waport_serve(folder) as server:
            yield server


SIGNATURE_HEADERS = {
    "sandbox": b"X-Sandbox-Signature",
    "meta": b"X-Hub-Signature-256",
    "web": b"X-Webhook-Hmac",
}


@pytest.mark.parametrize("provider", ["sandbox", "meta", "web"])
async def test_a_signature_header_of_non_ascii_bytes_is_refused_not_a_500(
    tmp_path: Path, provider: str
) -> None:
    body = b'{"entry": []}'
    with gateway(tmp_path, provider) as server:
        head = (
            f"POST /webhooks/{provider} HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\n".encode()
            + SIGNATURE_HEADERS[provider]
            + b": sha256=\xff\xfe\x80abc\r\n"
        )
        status, answer = await raw_request(server, head, body)
        log = server.stop()
    assert status == 401, answer
    assert json.loads(answer)["error"]["code"] == "INVALID_SIGNATURE"
    assert "Traceback" not in log


async def test_lone_surrogates_in_json_are_a_validation_error(tmp_path: Path) -> None:
    with waport_serve(tmp_path) as server:
        headers = {"Authorization": f"Bearer {server.key}", "Content-Type": "application/json"}
        async with aiohttp.ClientSession(headers=headers) as http:
            # the window is open: a text that passed validation would reach the store
            inbound = {"from": "255712345678", "text": "hi"}
            async with http.post(server.base + "/v1/sandbox/inbound", json=inbound) as r:
                assert r.status == 200
            for raw, param in [
                (b'{"to": "255712345678", "text": "a\\ud800b"}', "text"),
                (b'{"to": "255712345678", "text": "hi", "metadata": {"k": ["\\udfff"]}}', None),
                (b'{"to": "255712345678", "text": "hi", "\\ud800": 1}', None),
            ]:
                async with http.post(server.base + "/v1/messages", data=raw) as r:
                    answer: dict[str, Any] = await r.json()
                    assert r.status == 400, answer
                    assert r.headers["X-Request-Id"]
                assert answer["error"]["code"] == "VALIDATION_FAILED"
                if param is not None:
                    assert answer["error"]["param"] == param
            # a pair is a character like any other
            good = b'{"to": "255712345678", "text": "\\ud83d\\ude00"}'
            async with http.post(server.base + "/v1/messages", data=good) as r:
                assert r.status == 200, await r.text()
        log = server.stop()
    assert "Traceback" not in log
    assert "UnicodeEncodeError" not in log


async def test_a_control_character_in_a_media_type_is_refused_at_validation(
    tmp_path: Path,
) -> None:
    with waport_serve(tmp_path) as server:
        headers = {"Authorization": f"Bearer {server.key}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            await http.post(
                server.base + "/v1/sandbox/inbound", json={"from": CONTACT, "text": "hi"}
            )
            for media in [
                {"url": "https://cdn.example/a.png", "mime_type": "image/png; x=1\r\nX-Evil: 1"},
                {"data": "data:image/png;x=a\r\nb;base64,iVBORw0KGgo="},
            ]:
                async with http.post(
                    server.base + "/v1/messages", json={"to": CONTACT, "media": media}
                ) as r:
                    answer = await r.json()
                    assert r.status == 400, answer
                assert answer["error"]["code"] in ("VALIDATION_FAILED", "MEDIA_TYPE_UNSUPPORTED")
        log = server.stop()
    assert "Traceback" not in log


async def test_a_key_never_grants_more_than_its_maker_and_the_last_admin_key_stays(
    tmp_path: Path,
) -> None:
    with waport_serve(tmp_path) as server:
        root = {"Authorization": f"Bearer {server.key}"}
        async with aiohttp.ClientSession() as http:
            async with http.get(server.base + "/v1/keys", headers=root) as r:
                (own,) = (await r.json())["data"]
            # the only admin key cannot revoke itself
            async with http.delete(f"{server.base}/v1/keys/{own['id']}", headers=root) as r:
                answer = await r.json()
                assert r.status == 409, answer
            assert answer["error"]["code"] == "LAST_ADMIN_KEY"
            # an admin key limited to one sender at 5/min
            limited_body = {
                "scopes": ["admin"],
                "senders": ["sandbox-sender"],
                "rate_per_minute": 5,
            }
            async with http.post(server.base + "/v1/keys", headers=root, json=limited_body) as r:
                assert r.status == 201
                limited = await r.json()
            small = {"Authorization": f"Bearer {limited['data']['key']}"}
            for body, param in [
                (
                    {
                        "scopes": ["messages:send"],
                        "senders": ["sandbox-sender"],
                        "rate_per_minute": 1_000_000,
                    },
                    "rate_per_minute",
                ),
                ({"scopes": ["messages:send"]}, "senders"),
            ]:
                async with http.post(server.base + "/v1/keys", headers=small, json=body) as r:
                    answer = await r.json()
                    assert r.status == 403, answer
                assert answer["error"]["param"] == param
            body = {"scopes": ["messages:send"], "senders": ["sandbox-sender"]}
            async with http.post(server.base + "/v1/keys", headers=small, json=body) as r:
                assert r.status == 201
                assert (await r.json())["data"]["rate_per_minute"] == 5  # the maker's
            # with a second admin key alive, the first may go
            async with http.delete(f"{server.base}/v1/keys/{own['id']}", headers=small) as r:
                assert r.status == 403  # a limited key cannot revoke an unlimited one
            async with http.delete(
                f"{server.base}/v1/keys/{limited['data']['id']}", headers=root
            ) as r:
                assert r.status == 200
        log = server.stop()
    assert f"API key {limited['data']['id']} created by {own['id']}" in log
    assert f"API key {limited['data']['id']} revoked by {own['id']}" in log


async def test_the_database_and_its_wal_are_owner_only(tmp_path: Path) -> None:
    with waport_serve(tmp_path) as server:
        headers = {"Authorization": f"Bearer {server.key}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            await http.post(
                server.base + "/v1/sandbox/inbound", json={"from": CONTACT, "text": "hi"}
            )
        files = [tmp_path / name for name in ("waport.db", "waport.db-wal", "waport.db-shm")]
        modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files if f.exists()}
        server.stop()
    assert "waport.db" in modes
    assert "waport.db-wal" in modes
    assert all(mode == 0o600 for mode in modes.values()), {k: oct(v) for k, v in modes.items()}


async def test_slow_clients_are_dropped_and_livez_still_answers(tmp_path: Path) -> None:
    """1,000 connections dribbling a request head hold nothing for long: /livez answers
    within 1 s meanwhile, and each is closed after ``idle_timeout_seconds``."""
    with waport_serve(tmp_path, {"WAPORT_IDLE_TIMEOUT_SECONDS": "3"}) as server:
        port = int(server.base.rsplit(":", 1)[1])
        slow = []
        for _ in range(1000):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /livez HTTP/1.1\r\nHost: x\r\nX-a: ")
            slow.append((reader, writer))
        for _, writer in slow:
            writer.write(b"b")  # a byte more: still no end of the head
        started = time.monotonic()
        async with aiohttp.ClientSession() as http, http.get(server.base + "/livez") as r:
            assert r.status == 200
        assert time.monotonic() - started < 1.0
        # within the idle timeout (3 s) and a margin, every slow connection is closed
        closed = 0
        deadline = time.monotonic() + 10
        for reader, writer in slow:
            try:
                left = max(0.1, deadline - time.monotonic())
                await asyncio.wait_for(reader.read(), left)
                closed += 1
            except (TimeoutError, ConnectionError):
                pass
            writer.close()
        server.stop()
    assert closed == 1000


async def test_stalled_webhook_bodies_are_bounded_in_memory_and_dropped(tmp_path: Path) -> None:
    """300 clients each start a 4 MiB webhook body and stall: the gateway reads only
    ``max_webhook_reads`` at once, its RSS grows by under 100 MB, and every one is
    answered 408 (or closed) after ``body_timeout_seconds``."""
    env = {"WAPORT_BODY_TIMEOUT_SECONDS": "4"}
    with waport_serve(tmp_path, env) as server:
        port = int(server.base.rsplit(":", 1)[1])
        idle = rss_kib(server.process.pid)
        size = 4 * 1024 * 1024
        chunk = b"x" * 65536
        peak = idle

        async def stall() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST /webhooks/sandbox HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {size}\r\n\r\n".encode()
            )
            try:
                for _ in range(size // len(chunk) - 1):  # a chunk short: it stalls
                    writer.write(chunk)
                    await asyncio.wait_for(writer.drain(), 2)
            except (TimeoutError, ConnectionError):
                pass  # the gateway stopped reading: stall here
            try:
                return await asyncio.wait_for(reader.read(), 30)
            except ConnectionError:
                return b""
            finally:
                writer.close()

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, rss_kib(server.process.pid))
                await asyncio.sleep(0.1)

        watcher = asyncio.ensure_future(watch())
        started = time.monotonic()
        answers = await asyncio.gather(*(stall() for _ in range(300)))
        took = time.monotonic() - started
        watcher.cancel()
        log = server.stop()
    grown_mb = (peak - idle) / 1024
    assert grown_mb < 100, grown_mb
    assert took < 30, took  # dropped after the body timeout, not held
    timed_out = [a for a in answers if a.startswith(b"HTTP/1.1 408")]
    assert len(timed_out) + answers.count(b"") == 300, {a[:20] for a in answers}
    assert len(timed_out) > 0
    assert "Traceback" not in log


async def test_sandbox_scripts_touch_only_the_scripting_keys_senders(tmp_path: Path) -> None:
    """A key limited to one sender scripts failures for its own sends only: the other
    sender's sends go out untouched."""
    env = {"WAPORT_SANDBOX_SENDERS": "sandbox-sender,second-sender"}
    with waport_serve(tmp_path, env) as server:
        root = {"Authorization": f"Bearer {server.key}"}
        async with aiohttp.ClientSession() as http:
            body = {"scopes": ["messages:send", "messages:read"], "senders": ["second-sender"]}
            async with http.post(server.base + "/v1/keys", headers=root, json=body) as r:
                assert r.status == 201
                limited = {"Authorization": f"Bearer {(await r.json())['data']['key']}"}
            script = {"fail_with": "RECIPIENT_NOT_ON_WHATSAPP", "times": 10}
            async with http.post(
                server.base + "/v1/sandbox/script", headers=limited, json=script
            ) as r:
                assert r.status == 200, await r.json()

            async def send(headers: dict[str, str], sender: str) -> dict[str, Any]:
                body = {
                    "to": CONTACT,
                    "sender_id": sender,
                    "template": {"name": "hello_world", "language": "en_US"},
                }
                async with http.post(server.base + "/v1/messages", headers=headers, json=body) as r:
                    answer: dict[str, Any] = await r.json()
                    return answer

            other = await send(root, "sandbox-sender")
            own = await send(limited, "second-sender")
        server.stop()
    assert other["data"]["status"] == "sent", other
    assert own["error"]["code"] == "RECIPIENT_NOT_ON_WHATSAPP", own


async def test_the_sandbox_webhook_refuses_the_old_well_known_secret(tmp_path: Path) -> None:
    """Unconfigured, the sandbox signs webhooks with a secret of its own start: a body
    signed with the secret every install used to share is refused."""
    event = {
        "kind": "inbound",
        "provider_message_id": "forged.1",
        "sender_id": "sandbox-sender",
        "from": CONTACT,
        "at": "2026-12-05T10:00:00+00:00",
        "text": "open the window",
    }
    events = {"events": [event]}
    body = json.dumps(events).encode()
    forged = hmac.new(b"sandbox-secret", body, hashlib.sha256).hexdigest()
    with waport_serve(tmp_path) as server:
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                server.base + "/webhooks/sandbox",
                data=body,
                headers={"X-Sandbox-Signature": forged, "Content-Type": "application/json"},
            ) as r,
        ):
            answer = await r.json()
            status = r.status
        server.stop()
    assert status == 401, answer
    assert answer["error"]["code"] == "INVALID_SIGNATURE"


async def test_metrics_answer_only_the_metrics_token_or_an_admin_key(tmp_path: Path) -> None:
    token = "prometheus-scrape-token-0123456789"
    with waport_serve(tmp_path, {"WAPORT_METRICS_TOKEN": token}) as server:
        root = {"Authorization": f"Bearer {server.key}"}
        async with aiohttp.ClientSession() as http:
            body = {"scopes": ["messages:send", "messages:read"]}
            async with http.post(server.base + "/v1/keys", headers=root, json=body) as r:
                sender = {"Authorization": f"Bearer {(await r.json())['data']['key']}"}
            answers = {}
            for name, headers in [
                ("nobody", {}),
                ("wrong token", {"Authorization": "Bearer not-the-token"}),
                ("sending key", sender),
                ("metrics token", {"Authorization": f"Bearer {token}"}),
                ("admin key", root),
            ]:
                async with http.get(server.base + "/metrics", headers=headers) as r:
                    answers[name] = (r.status, await r.text())
        log = server.stop()
    assert {name: status for name, (status, _) in answers.items()} == {
        "nobody": 401,
        "wrong token": 401,
        "sending key": 403,
        "metrics token": 200,
        "admin key": 200,
    }
    assert "waport_http_requests_total" in answers["metrics token"][1]
    assert token not in log


async def test_an_oversized_form_field_is_refused_at_the_first_byte_over(tmp_path: Path) -> None:
    """A 100 MB ``text`` field in a multipart send: 413 while the client is still
    sending, after a few MB at most (the field limit is ``max_body_bytes``, 1 MiB)."""
    with waport_serve(tmp_path) as server:
        port = int(server.base.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        boundary = "b0undary"
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="text"\r\n\r\n').encode()
        size = 100 * 1024 * 1024
        writer.write(
            b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {server.key}\r\n".encode()
            + f"Content-Type: multipart/form-data; boundary={boundary}\r\n".encode()
            + f"Content-Length: {len(head) + size}\r\n\r\n".encode()
            + head
        )

        async def response() -> bytes:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            return head + await reader.readexactly(length)

        answer = asyncio.ensure_future(response())
        sent = 0
        chunk = b"x" * (1024 * 1024)
        try:
            while sent < size and not answer.done():
                writer.write(chunk)
                await asyncio.wait_for(writer.drain(), 10)
                sent += len(chunk)
        except (ConnectionError, TimeoutError):
            pass
        raw = await asyncio.wait_for(answer, 30)
        writer.close()
        server.stop()
    assert raw.startswith(b"HTTP/1.1 413"), raw[:200]
    assert b"PAYLOAD_TOO_LARGE" in raw
    assert sent < 16 * 1024 * 1024, sent


async def test_a_key_limited_to_one_sender_sees_only_its_senders_windows(tmp_path: Path) -> None:
    """Without ``from``, window status answers for the key's own senders only: a contact
    who wrote to another sender is no open window for it."""
    env = {"WAPORT_SANDBOX_SENDERS": "sandbox-sender,second-sender"}
    with waport_serve(tmp_path, env) as server:
        root = {"Authorization": f"Bearer {server.key}"}
        async with aiohttp.ClientSession() as http:
            body = {"scopes": ["messages:read"], "senders": ["second-sender"]}
            async with http.post(server.base + "/v1/keys", headers=root, json=body) as r:
                limited = {"Authorization": f"Bearer {(await r.json())['data']['key']}"}
            inbound = {"from": CONTACT, "to_sender": "sandbox-sender", "text": "hi"}
            async with http.post(
                server.base + "/v1/sandbox/inbound", headers=root, json=inbound
            ) as r:
                assert r.status == 200
            answers = {}
            for name, headers in (("root", root), ("limited", limited)):
                async with http.get(
                    server.base + "/v1/window-status", params={"to": CONTACT}, headers=headers
                ) as r:
                    answers[name] = (await r.json())["data"]
        server.stop()
    assert answers["root"]["within_window"] is True
    assert answers["limited"]["within_window"] is False
    assert answers["limited"]["last_inbound_at"] is None


async def test_a_client_leaving_mid_body_is_no_error(tmp_path: Path) -> None:
    """A client that hangs up in the middle of its body: no ERROR line, no traceback."""
    with waport_serve(tmp_path) as server:
        port = int(server.base.rsplit(":", 1)[1])
        for _ in range(20):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n"
                + f"Authorization: Bearer {server.key}\r\n".encode()
                + b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                + b'{"to": "255712345678", "text": {"body": "'
            )
            await writer.drain()
            writer.transport.abort()  # gone, mid-body
        await asyncio.sleep(0.5)
        async with aiohttp.ClientSession() as http, http.get(server.base + "/livez") as r:
            assert r.status == 200
        log = server.stop()
    assert "Traceback" not in log
    assert " ERROR " not in log
