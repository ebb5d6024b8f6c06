"""Entry-point descriptor: the ``meta`` provider (Meta's WhatsApp Cloud API)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs

from waport import httpkit
from waport.domain.errors import ConfigError
from waport.plugins import PluginContext, ProviderPlugin
from waport_meta.media import MEDIA_HOSTS
from waport_meta.provider import DEFAULT_API_VERSION, DEFAULT_GRAPH_URL, MetaCloudProvider


@attrs.frozen(kw_only=True)
class MetaConfig:
    token: str = attrs.field(default="", repr=False)
    """A system-user access token with whatsapp_business_messaging (and _management to sync templates)."""
    phone_number_ids: tuple[str, ...] = ()
    """The phone number ids this gateway sends from (its senders)."""
    waba_id: str | None = None
    """The WhatsApp Business Account id (for template sync)."""
    app_secret: str | None = attrs.field(default=None, repr=False)
    """The app secret that signs webhooks (X-Hub-Signature-256); without it every webhook is refused."""
    verify_token: str | None = attrs.field(default=None, repr=False)
    """The token you enter in Meta's webhook settings (hub.verify_token)."""
    graph_url: str = DEFAULT_GRAPH_URL
    """The Graph API base URL."""
    api_version: str = DEFAULT_API_VERSION
    """The Graph API version segment."""
    timeout: float = 20.0
    """Seconds one Graph request may take."""
    max_rps: float = 80.0
    """Messages per second per phone number (Meta's default; 1000 after an upgrade)."""
    max_connections: int = httpkit.DEFAULT_MAX_CONNECTIONS
    """Keep-alive connections to the Graph API open at most at once."""
    media_hosts: tuple[str, ...] = MEDIA_HOSTS
    """Hosts media downloads may be fetched from, besides the Graph host."""


@asynccontextmanager
async def open_meta(config: MetaConfig, ctx: PluginContext) -> AsyncIterator[MetaCloudProvider]:
    if not config.token:
        raise ConfigError("the meta provider needs a token (WAPORT_META_TOKEN)")
    if not config.phone_number_ids:
        raise ConfigError("the meta provider needs phone number ids (WAPORT_META_PHONE_NUMBER_IDS)")
    try:
        pool = httpkit.ConnectionPool(config.graph_url, max_connections=config.max_connections)
    except ValueError as exc:
        raise ConfigError(f"meta: {exc}") from None
    async with httpkit.session_for(ctx) as http, pool as graph:
        yield MetaCloudProvider(
            http=http,
            clock=ctx.clock,
            token=config.token,
            phone_number_ids=config.phone_number_ids,
            waba_id=config.waba_id,
            app_secret=config.app_secret,
            verify_token=config.verify_token,
            graph_url=config.graph_url,
            api_version=config.api_version,
            timeout=config.timeout,
            max_rps=config.max_rps,
            pool=graph,
            media_hosts=config.media_hosts,
        )


plugin = ProviderPlugin(
    name="meta",
    config_type=MetaConfig,
    open=open_meta,
    description="Meta's WhatsApp Cloud API (Graph API), with signed webhooks and template sync.",
)
