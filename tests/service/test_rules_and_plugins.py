"""Capability checks before any I/O, and the plugin registry's loading rules."""

from __future__ import annotations

from typing import Any

import aiohttp
import attrs
import pytest

from waport import ConfigError, ErrorCode, WaportError, httpkit, parse_send_request
from waport.domain.limits import MediaKind
from waport.plugins import PluginContext, ProviderPlugin, Registry, StorePlugin
from waport.ports import Capabilities
from waport.service.rules import check_capabilities
from waport.testing import FakeClock, SequentialIds

TO = "255712345678"


@pytest.mark.parametrize(
    ("caps", "body", "code", "param"),
    [
        (
            Capabilities(modes=frozenset({"text"})),
            {"to": TO, "location": {"latitude": 1, "longitude": 1}},
            "FEATURE_NOT_SUPPORTED",
            "location",
        ),
        (
            Capabilities(channels=False),
            {"to": "1203630@newsletter", "text": "x"},
            "FEATURE_NOT_SUPPORTED",
            "to",
        ),
        (
            Capabilities(reply=False),
            {"to": TO, "text": "x", "reply_to": "m1"},
            "FEATURE_NOT_SUPPORTED",
            "reply_to",
        ),
        (
            Capabilities(interactive_types=frozenset({"buttons"})),
            {
                "to": TO,
                "interactive": {
                    "type": "cta_url",
                    "body": "b",
                    "display_text": "d",
                    "url": "https://x.example",
                },
            },
            "FEATURE_NOT_SUPPORTED",
            "interactive.type",
        ),
        (
            Capabilities(button_types=frozenset({"reply"})),
            {
                "to": TO,
                "interactive": {
                    "type": "buttons",
                    "body": "b",
                    "buttons": [{"type": "url", "title": "t", "url": "https://x.example"}],
                },
            },
            "FEATURE_NOT_SUPPORTED",
            "interactive.buttons[0].type",
        ),
        (
            Capabilities(media_kinds=frozenset({MediaKind.IMAGE})),
            {"to": TO, "media": {"type": "video", "url": "https://x.example/a.mp4"}},
            "FEATURE_NOT_SUPPORTED",
            "media.type",
        ),
        (
            Capabilities(base64_media=False),
            {
                "to": TO,
                "sender_id": "s",
                "template": {
                    "name": "t",
                    "language": "en",
                    "header": {"data": "data:image/png;base64,iVBORw0KGgo="},
                },
            },
            "BASE64_NOT_SUPPORTED",
            "template.header.data",
        ),
        (
            Capabilities(base64_media=False),
            {
                "to": TO,
                "interactive": {
                    "type": "buttons",
                    "body": "b",
                    "header": {"data": "data:image/png;base64,iVBORw0KGgo="},
                    "buttons": [{"id": "a", "title": "A"}],
                },
            },
            "BASE64_NOT_SUPPORTED",
            "interactive.header.data",
        ),
    ],
)
def test_capabilities_refuse_what_the_provider_cannot_do(
    caps: Capabilities, body: dict[str, Any], code: str, param: str
) -> None:
    with pytest.raises(WaportError) as info:
        check_capabilities(caps, parse_send_request(body))
    assert (info.value.code.value, info.value.param) == (code, param)


def test_capabilities_allow_what_is_declared() -> None:
    check_capabilities(
        Capabilities(groups=True), parse_send_request({"to": "120363@g.us", "text": "x"})
    )


def test_registry_finds_the_bundled_plugins() -> None:
    registry = Registry.from_entry_points()
    assert {"sandbox"} <= set(registry.providers)
    assert {"memory", "sqlite"} <= set(registry.stores)
    assert registry.store_for("memory:").name == "memory"
    assert registry.store_for("./waport.db").name == "sqlite"
    assert registry.store_for("sqlite:///x.db").name == "sqlite"


def test_registry_errors_name_what_is_installed() -> None:
    registry = Registry(providers={}, stores={})
    with pytest.raises(ConfigError, match="installed: none"):
        registry.provider("twilio")
    with pytest.raises(ConfigError):
        registry.store("redis")
    with pytest.raises(ConfigError):
        registry.store_for("mysql://x")


def test_plugin_descriptors_are_plain_data() -> None:
    plugin = ProviderPlugin(name="toy", config_type=dict, open=lambda c, ctx: None)  # type: ignore[arg-type,return-value]
    store = StorePlugin(name="toy", config_type=dict, open=lambda c, ctx: None)  # type: ignore[arg-type,return-value]
    registry = Registry(providers={"toy": plugin}, stores={"toy": store})
    assert registry.provider("toy") is plugin
    assert not store.accepts("anything")
    ctx = PluginContext(clock=FakeClock(), ids=SequentialIds())
    assert ctx.http is None
    assert ctx.logger.name == "waport"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # aiohttp runs on asyncio only
async def test_a_plugin_uses_the_shared_session_or_owns_one() -> None:
    ctx = PluginContext(clock=FakeClock(), ids=SequentialIds())
    async with httpkit.session_for(ctx) as own:
        assert not own.closed
    assert own.closed  # a session of its own is closed with the plugin
    async with aiohttp.ClientSession() as shared:
        with_shared = attrs.evolve(ctx, http=shared)
        async with httpkit.session_for(with_shared) as given:
            assert given is shared
        assert not shared.closed  # the application's session is never closed by a plugin


def test_an_error_code_is_the_only_exception_type() -> None:
    with pytest.raises(WaportError) as info:
        check_capabilities(
            Capabilities(groups=False), parse_send_request({"to": "120363@g.us", "text": "x"})
        )
    assert info.value.code == ErrorCode.FEATURE_NOT_SUPPORTED
