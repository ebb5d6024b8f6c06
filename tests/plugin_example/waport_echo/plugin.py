"""The entry-point descriptor. In pyproject.toml:

[project.entry-points."waport.providers"]
echo = "waport_echo.plugin:plugin"
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
from waport_echo.provider import EchoProvider, EchoRemote

from waport.provider_kit import PluginContext, ProviderPlugin


@attrs.frozen(kw_only=True)
class EchoConfig:
    sender: str = "echo-1"
    """The one sender id (WAPORT_ECHO_SENDER)."""
    secret: str = attrs.field(default="echo-secret", repr=False)
    """The webhook signing secret (WAPORT_ECHO_SECRET)."""


@asynccontextmanager
async def open_echo(config: EchoConfig, ctx: PluginContext) -> AsyncIterator[EchoProvider]:
    yield EchoProvider(EchoRemote(), ctx.clock, sender=config.sender, secret=config.secret)


plugin = ProviderPlugin(
    name="echo", config_type=EchoConfig, open=open_echo, description="A toy provider."
)
