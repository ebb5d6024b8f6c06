"""Configuration loading, the waport command, and outbound webhook delivery."""

from __future__ import annotations

import gc
import json
import random
import socket
import sys
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import attrs
import pytest
import standardwebhooks
from hypothesis import given, settings
from hypothesis import strategies as st

from waport import ConfigError
from waport.domain.records import OutboxState, Workspace
from waport.service import tune_gc
from waport.testing import FakeClock
from waport_http import cli, config, relay, server
from waport_memory.plugin import SandboxConfig
from waport_meta.fake import open_fake_graph

from .conftest import Harness, open_harness, receiver

HELLO = {"name": "hello_world", "language": "en_US"}


def test_settings_from_toml_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "waport.toml"
    path.write_text(
        'listen = "127.0.0.2:9000"\nrate_limit_per_minute = 120\n\n[sandbox]\nsenders = ["a", "b"]\nmax_rps = 5\nenforce_window = false\n'
    )
    loaded = config.load(
        path, {"WAPORT_RATE_LIMIT_PER_MINUTE": "30", "WAPORT_SANDBOX_READ_AFTER_MS": ""}
    )
    assert (loaded.settings.host, loaded.settings.port, loaded.settings.rate_limit_per_minute) == (
        "127.0.0.2",
        9000,
        30,
    )
    sandbox = loaded.plugin_config("sandbox", SandboxConfig)
    assert (sandbox.senders, sandbox.max_rps, sandbox.enforce_window, sandbox.read_after_ms) == (
        ("a", "b"),
        5.0,
        False,
        None,
    )
    env = config.load(
        None, {"WAPORT_SANDBOX_SENDERS": "x, y", "WAPORT_SANDBOX_ENFORCE_WINDOW": "no"}
    )
    assert env.plugin_config("sandbox", SandboxConfig).senders == ("x", "y")
    assert "webhook_secret" not in repr(env.settings)


def test_the_event_loop_setting_picks_uvloop_or_asyncio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uvloop = pytest.importorskip("uvloop")
    assert cli.loop_options("auto") == {"loop_factory": uvloop.new_event_loop}
    assert cli.loop_options("uvloop") == {"loop_factory": uvloop.new_event_loop}
    assert cli.loop_options("asyncio") == {}
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if it were not installed
    assert cli.loop_options("auto") == {}
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        cli.loop_options("uvloop")


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("surprise = 1", {}, "unknown setting"),
        ('rate_limit_per_minute = "many"', {}, "must be an integer"),
        ("", {"WAPORT_RATE_LIMIT_PER_MINUTE": "many"}, "must be an integer"),
        ("", {"WAPORT_LISTEN": "nowhere"}, "host:port"),
        ("", {"WAPORT_LISTEN": "127.0.0.1:65536"}, "the port from 0 .any free one. to 65535"),
        ("", {"WAPORT_LISTEN": "127.0.0.1:-1"}, "host:port"),
        ("", {"WAPORT_RATE_LIMIT_PER_MINUTE": "0"}, "from 1 to 1000000"),
        ("", {"WAPORT_RATE_LIMIT_PER_MINUTE": "1000001"}, "from 1 to 1000000"),
        ("", {"WAPORT_PROVIDER_TIMEOUT_SECONDS": "100"}, "longer than"),
        ("", {"WAPORT_ALLOW_PRIVATE_URLS": "perhaps"}, "true or false"),
        ("", {"WAPORT_LOOKUP_CACHE_SECONDS": "soon"}, "must be a number"),
        ("", {"WAPORT_GC_THRESHOLD": "-1"}, "gc_threshold must be 0"),
        ("", {"WAPORT_EVENT_LOOP": "trio"}, "event_loop must be one of"),
        ("listen = 5", {}, "must be a string"),
        ("allow_private_urls = 1", {}, "true or false"),
        ("lookup_cache_seconds = true", {}, "must be a number"),
        ("not toml [", {}, "not valid TOML"),
    ],
)
def test_bad_settings_stop_with_a_clear_message(
    tmp_path: Path, toml: str, env: dict[str, str], message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message):
        config.load(path, env)


@pytest.mark.parametrize(
    ("listen", "host", "port"),
    [("[::1]:8080", "::1", 8080), (":0", "127.0.0.1", 0), ("localhost:65535", "localhost", 65535)],
)
def test_the_listen_address(listen: str, host: str, port: int) -> None:
    settings = config.load(None, {"WAPORT_LISTEN": listen}).settings
    assert (settings.host, settings.port) == (host, port)


def test_serve_refuses_an_address_it_cannot_bind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WAPORT_DATABASE", str(tmp_path / "s.db"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["serve", "--listen", f"127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert f"waport: configuration error: cannot listen on 127.0.0.1:{port}: " in err
    assert "address already in use" in err


@pytest.mark.anyio
async def test_serve_on_port_0_listens_on_a_free_port_and_says_which(tmp_path: Path) -> None:
    env = {"WAPORT_DATABASE": str(tmp_path / "s.db"), "WAPORT_LISTEN": "127.0.0.1:0"}
    loaded = config.load(None, {**env, "WAPORT_GC_THRESHOLD": "0"})  # the collector as it is
    said: list[str] = []
    urls: list[str] = []
    listening = anyio.Event()

    def ready(url: str) -> None:
        urls.append(url)
        listening.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(partial(server.serve, loaded, out=said.append, ready=ready))
        await listening.wait()
        async with aiohttp.ClientSession() as http, http.get(f"{urls[0]}/livez") as answer:
            assert answer.status == 200
        tg.cancel_scope.cancel()
    host, port = urls[0].removeprefix("http://").rsplit(":", 1)
    assert host == "127.0.0.1"
    assert int(port) > 0
    assert any(f"listening on {urls[0]} " in line for line in said)


@pytest.mark.anyio
async def test_templates_sync_asks_the_provider_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with open_fake_graph() as fake:
        pages = -(-len(fake.templates) // fake.page_size)
        for name, value in {
            "WAPORT_DATABASE": str(tmp_path / "t.db"),
            "WAPORT_PROVIDER": "meta",
            "WAPORT_META_GRAPH_URL": fake.url,
            "WAPORT_META_TOKEN": fake.token,
            "WAPORT_META_PHONE_NUMBER_IDS": fake.phone_number_ids[0],
            "WAPORT_META_WABA_ID": fake.waba_id,
        }.items():
            monkeypatch.setenv(name, value)
        assert await anyio.to_thread.run_sync(cli.main, ["templates", "sync"]) == 0
        assert fake.calls == pages  # not a second time at start
    synced = json.loads(capsys.readouterr().out)["synced"]
    assert synced == {fake.phone_number_ids[0]: len(fake.templates)}


@pytest.mark.parametrize("threshold", [0, 10_000])
def test_tune_gc_freezes_start_up_and_sets_the_youngest_threshold(threshold: int) -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    try:
        tune_gc(threshold)
        if threshold:
            assert gc.get_freeze_count() > 0
            assert gc.get_threshold() == (threshold, *before[1:])
        else:
            assert gc.get_freeze_count() == 0
            assert gc.get_threshold() == before
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_bad_plugin_settings(tmp_path: Path) -> None:
    loaded = config.load(None, {"WAPORT_SANDBOX_MAX_RPS": "fast"})
    with pytest.raises(ConfigError, match="must be a number"):
        loaded.plugin_config("sandbox", SandboxConfig)
    loaded = config.load(None, {})
    with pytest.raises(ConfigError, match="no configuration file"):
        config.load(tmp_path / "missing.toml", {})
    assert attrs.evolve(loaded.plugin_config("sandbox", SandboxConfig), max_rps=1).max_rps == 1


def test_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "cli.db")
    monkeypatch.setenv("WAPORT_DATABASE", db)
    monkeypatch.setenv("WAPORT_SANDBOX_ENFORCE_WINDOW", "false")
    assert cli.main(["version"]) == 0
    assert capsys.readouterr().out.startswith("waport ")
    assert (
        cli.main(
            [
                "keys",
                "create",
                "--scopes",
                "messages:send,messages:read",
                "--senders",
                "sandbox-sender",
                "--label",
                "ci",
            ]
        )
        == 0
    )
    created = json.loads(capsys.readouterr().out)
    assert created["key"].startswith("wpk_")
    assert created["senders"] == ["sandbox-sender"]
    assert cli.main(["keys", "create", "--workspace", "typo"]) == 1  # the default one is made
    assert "VALIDATION_FAILED: no workspace 'typo' in this database [workspace]" in (
        capsys.readouterr().err
    )
    assert cli.main(["keys", "list"]) == 0
    assert [k["id"] for k in json.loads(capsys.readouterr().out)] == [created["id"]]
    assert cli.main(["keys", "revoke", created["id"]]) == 0
    assert cli.main(["keys", "revoke", created["id"]]) == 1
    capsys.readouterr()
    assert (
        cli.main(
            [
                "send",
                "--to",
                "+255712345678",
                "--template",
                "order_update",
                "--param",
                "Ana",
                "--param",
                "#1",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["status"] == "sent"
    assert (
        cli.main(
            [
                "send",
                "--to",
                "255712345678",
                "--text",
                "hi",
                "--no-check-window",
                "--sender",
                "sandbox-sender",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert cli.main(["send", "--json", '{"to": "255712345678", "text": "hi"}']) == 1
    assert "WINDOW_CLOSED" in capsys.readouterr().err
    # flags win over the body's own fields
    body = '{"to": "x", "text": "hi", "check_window": true}'
    assert cli.main(["send", "--json", body, "--to", "255712345678", "--no-check-window"]) == 0
    assert json.loads(capsys.readouterr().out)["to"] == "255712345678"
    for bad, said in (
        (["--json", "{bad"], "VALIDATION_FAILED: --json is not valid JSON"),
        (["--json", "[1]"], "VALIDATION_FAILED: --json must be a JSON object"),
        (["--text", "hi"], "VALIDATION_FAILED: --to is required [to]"),
    ):
        assert cli.main(["send", *bad]) == 1
        assert said in capsys.readouterr().err
    assert cli.main(["templates", "sync"]) == 0
    assert json.loads(capsys.readouterr().out) == {"synced": {"sandbox-sender": 3}}
    assert cli.main(["--provider", "twilio", "templates", "sync"]) == 2
    assert "configuration error" in capsys.readouterr().err


@given(
    st.dictionaries(st.text(max_size=10), st.text(max_size=20) | st.integers(), max_size=5),
    st.binary(min_size=24, max_size=64),
    st.text("abcdefghij0123456789_", min_size=1, max_size=30),
)
@settings(max_examples=200, deadline=None)
def test_signatures_interoperate_with_the_standard_webhooks_library(
    payload: dict[str, Any], key: bytes, msg_id: str
) -> None:
    import base64
    from datetime import UTC, datetime

    body = json.dumps(payload).encode()

    secret = "whsec_" + base64.b64encode(key).decode()
    now = datetime.now(UTC)
    stamp = int(now.timestamp())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": relay.sign(secret, msg_id, stamp, body),
    }
    standardwebhooks.Webhook(secret).verify(body, headers)
    assert relay.verify(secret, headers, body, now=now)
    theirs = standardwebhooks.Webhook(secret).sign(msg_id, now, body.decode())
    assert relay.verify(secret, {**headers, "webhook-signature": theirs}, body, now=now)
    tampered = body + b"x"
    assert not relay.verify(secret, headers, tampered, now=now)
    assert not relay.verify(
        secret, {**headers, "webhook-timestamp": str(stamp - 3600)}, body, now=now
    )
    assert not relay.verify(secret, {**headers, "webhook-id": ""}, body, now=now)


async def _events_for(gw: Harness, hook: str) -> str:
    ws = await gw.running.store.workspaces.get("default")
    assert ws is not None
    await gw.running.store.workspaces.put(attrs.evolve(ws, webhook_url=hook))
    gw.running.messenger.invalidate()
    _, body, _ = await gw.post(
        "/v1/messages", {"to": "255712345678", "sender_id": "sandbox-sender", "template": HELLO}
    )
    return str(body["data"]["message_id"])


@pytest.mark.anyio
async def test_webhooks_retry_on_the_schedule_in_order_and_stop_on_410() -> None:
    async with open_harness() as gw, receiver() as (hook, seen, answer):
        gw.running.relay.rand = random.Random(0)
        message_id = await _events_for(gw, hook)
        gw.clock.advance(3)
        await gw.running.messenger.dispatch_once()  # the sandbox reports delivered and read
        answer(503)
        result = await gw.running.relay.deliver_once()
        assert (result.delivered, result.failed) == (0, 1)
        events = await gw.running.store.outbox.for_message(message_id)
        assert [e.type for e in events] == ["message.sent", "message.delivered", "message.read"]
        assert events[0].attempts == 1
        assert timedelta(seconds=4.5) <= events[0].due_at - gw.clock.now() <= timedelta(seconds=5.5)
        assert (
            await gw.running.relay.deliver_once()
        ).delivered == 0  # not due, and later events wait
        gw.clock.advance(6)
        for _ in range(3):
            await gw.running.relay.deliver_once()
        received = [
            json.loads(body)["type"]
            for _, body in seen
            if json.loads(body)["data"]["message_id"] == message_id
        ]
        assert received == ["message.sent", "message.sent", "message.delivered", "message.read"]
        assert len({h["webhook-id"] for h, _ in seen}) == 3
        workspace = await gw.running.store.workspaces.get("default")
        assert workspace is not None
        assert workspace.webhook_secret is not None
        last_headers = {k.lower(): v for k, v in seen[-1][0].items()}
        assert relay.verify(workspace.webhook_secret, last_headers, seen[-1][1], now=gw.clock.now())
        # a 410 disables the URL
        second = await _events_for(gw, hook)
        answer(410)
        await gw.running.relay.deliver_once()
        assert all(
            e.state == OutboxState.DEAD for e in await gw.running.store.outbox.for_message(second)
        )


@pytest.mark.anyio
async def test_redirects_and_unreachable_receivers_are_failures() -> None:
    async with open_harness() as gw, receiver() as (hook, _, answer):
        message_id = await _events_for(gw, hook)
        answer(302)
        assert (await gw.running.relay.deliver_once()).failed == 1
        event = (await gw.running.store.outbox.for_message(message_id))[0]
        assert event.last_error == "HTTP 302"
    async with open_harness() as gw:
        message_id = await _events_for(gw, "http://127.0.0.1:9/unreachable")
        assert (await gw.running.relay.deliver_once()).failed == 1
        event = (await gw.running.store.outbox.for_message(message_id))[0]
        assert event.last_error is not None
        assert "Error" in event.last_error


@pytest.mark.anyio
async def test_retry_after_and_exhaustion() -> None:
    async with open_harness() as gw:
        store = gw.running.store
        await store.workspaces.put(Workspace(id="default", webhook_url=None))

        class Replies:
            status = 429

        from aiohttp import web
        from aiohttp.test_utils import TestServer

        async def handle(request: Any) -> Any:
            return web.Response(status=Replies.status, headers={"Retry-After": "120"})

        app = web.Application()
        app.router.add_post("/hook", handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            message_id = await _events_for(gw, str(server.make_url("/hook")))
            await gw.running.relay.deliver_once()
            event = (await store.outbox.for_message(message_id))[0]
            assert event.due_at - gw.clock.now() >= timedelta(seconds=120)
            Replies.status = 500
            for _ in range(7):
                gw.clock.advance(hours=12)
                await gw.running.relay.deliver_once()
            event = (await store.outbox.for_message(message_id))[0]
            assert (event.state, event.attempts) == (OutboxState.DEAD, 8)
        finally:
            await server.close()


@pytest.mark.anyio
async def test_sandbox_and_unknown_provider_webhook_routes(gw: Harness) -> None:
    sandbox = gw.running.provider.sandbox
    assert sandbox is not None
    body = gw.running.provider.webhook_body(
        [
            {
                "kind": "inbound",
                "provider_message_id": "x1",
                "sender_id": "sandbox-sender",
                "from": "255712345678",
                "text": "hi",
                "at": gw.clock.now().isoformat(),
            }
        ]
    )  # type: ignore[attr-defined]
    async with gw.http.post(
        gw.base + "/webhooks/sandbox", data=body, headers=gw.running.provider.sign(body)
    ) as r:  # type: ignore[attr-defined]
        assert (r.status, (await r.json())["data"]["inbound_new"]) == (200, 1)
    async with gw.http.post(
        gw.base + "/webhooks/sandbox", data=body + b" ", headers=gw.running.provider.sign(body)
    ) as r:  # type: ignore[attr-defined]
        assert (r.status, (await r.json())["error"]["code"]) == (401, "INVALID_SIGNATURE")
    async with gw.http.post(gw.base + "/webhooks/meta", data=body) as r:
        assert r.status == 404
    async with gw.http.get(gw.base + "/webhooks/sandbox") as r:
        assert (r.status, (await r.json())["error"]["code"]) == (400, "FEATURE_NOT_SUPPORTED")


def test_new_secrets_are_standard() -> None:
    import base64

    secret = relay.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:])) == 32
    assert relay.sign("plain-text-secret", "m", 1, b"x").startswith("v1,")


def test_a_bad_header_value_is_ignored() -> None:
    from waport.domain.schedule import parse_retry_after

    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("1e9") == 86_400.0


_ = (FakeClock, aiohttp)


def test_media_upload_and_get_through_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WAPORT_DATABASE", str(tmp_path / "cli.db"))
    menu = tmp_path / "menu.pdf"
    menu.write_bytes(b"%PDF-1.4 " + bytes(range(256)) * 300)
    assert cli.main(["media", "upload", str(menu)]) == 0
    kept = json.loads(capsys.readouterr().out)
    assert (kept["mime_type"], kept["size"], kept["filename"]) == (
        "application/pdf",
        menu.stat().st_size,
        "menu.pdf",
    )
    back = tmp_path / "back.pdf"
    assert cli.main(["media", "get", kept["media_id"], "-o", str(back)]) == 0
    assert back.read_bytes() == menu.read_bytes()
    assert cli.main(["media", "get", "med_nothing", "-o", str(back)]) == 1
    assert "MEDIA_NOT_FOUND" in capsys.readouterr().err
    odd = tmp_path / "notes.unknownext"
    odd.write_bytes(b"x")
    assert cli.main(["media", "upload", str(odd)]) == 1
    assert cli.main(["media", "upload", str(odd), "--mime-type", "text/plain"]) == 0
