"""Entry-point descriptor: the ``web`` provider (a WAHA WhatsApp-Web gateway)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs

from waport import httpkit
from waport.domain.errors import ConfigError
from waport.plugins import PluginContext, ProviderPlugin
from waport_web.provider import WahaProvider


@attrs.frozen(kw_only=True)
class WebConfig:
    url: str = ""
    """The WAHA server's base URL (WAPORT_WEB_URL), e.g. http://waha:3000."""
    api_key: str | None = attrs.field(default=None, repr=False)
    """WAHA's X-Api-Key."""
    session: str = "default"
    """The WAHA session: the one sender of this gateway."""
    hmac_key: str | None = attrs.field(default=None, repr=False)
    """The key WAHA signs webhooks with (X-Webhook-Hmac, HMAC-SHA512); without it every webhook is refused."""
    base64_media: bool = True
    """Accept inline base64 media (else only URLs: BASE64_NOT_SUPPORTED)."""
    interactive: bool = False
    """Send interactive buttons and lists (WAHA says they may stop working at any time)."""
    message_ids: bool = False
    """Pre-generate message ids from waport's ids (NOWEB/GOWS engines) so retries re-use them."""
    recording_indicator: bool = True
    """Show "recording audio..." in the chat before a voice note goes (WAHA's presence)."""
    timeout: float = 20.0
    """Seconds one WAHA request may take."""
    max_rps: float = 20.0
    """Messages per second; keep unofficial numbers slow (WAHA's advice against blocking)."""


@asynccontextmanager
async def open_web(config: WebConfig, ctx: PluginContext) -> AsyncIterator[WahaProvider]:
    if not config.url:
        raise ConfigError("the web provider needs the WAHA server's URL (WAPORT_WEB_URL)")
    async with httpkit.session_for(ctx) as http:
        yield WahaProvider(
            http=http,
            clock=ctx.clock,
            url=config.url,
            session=config.session,
            api_key=config.api_key,
            hmac_key=config.hmac_key,
            base64_media=config.base64_media,
            interactive=config.interactive,
            message_ids=config.message_ids,
            recording_indicator=config.recording_indicator,
            timeout=config.timeout,
            max_rps=config.max_rps,
        )


plugin = ProviderPlugin(
    name="web",
    config_type=WebConfig,
    open=open_web,
    description="An unofficial WhatsApp-Web gateway (WAHA) through its HTTP API.",
)
