"""Entry-point descriptors: the ``memory`` store and the ``sandbox`` provider."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import attrs

from waport.plugins import PluginContext, ProviderPlugin, StorePlugin
from waport_memory.sandbox import SandboxProvider
from waport_memory.store import MemoryStore


@attrs.frozen(kw_only=True)
class MemoryConfig:
    url: str = "memory:"


@attrs.frozen(kw_only=True)
class SandboxConfig:
    senders: tuple[str, ...] = ("sandbox-sender",)
    max_rps: float = 1000.0
    delivered_after_ms: int = 1000
    read_after_ms: int | None = 2000
    webhook_secret: str | None = attrs.field(default=None, repr=False)
    """Signs ``/webhooks/sandbox`` requests; unset, a random one per start (the route then
    answers nobody outside the process)."""
    enforce_window: bool = True
    journal: str | None = None
    """A file where the sandbox records what it sent, to remember it across restarts."""


@asynccontextmanager
async def open_memory(config: MemoryConfig, ctx: PluginContext) -> AsyncIterator[MemoryStore]:
    yield MemoryStore()


@asynccontextmanager
async def open_sandbox(config: SandboxConfig, ctx: PluginContext) -> AsyncIterator[SandboxProvider]:
    yield SandboxProvider(
        clock=ctx.clock,
        sender_ids=tuple(config.senders),
        max_rps=config.max_rps,
        delivered_after=timedelta(milliseconds=config.delivered_after_ms),
        read_after=None
        if config.read_after_ms is None
        else timedelta(milliseconds=config.read_after_ms),
        webhook_secret=config.webhook_secret or secrets.token_hex(32),
        enforce_window=config.enforce_window,
        journal=config.journal,
    )


store = StorePlugin(
    name="memory",
    config_type=MemoryConfig,
    open=open_memory,
    accepts=lambda url: url in (":memory:", "memory:", "memory://"),
    description="Everything in dictionaries: fast, not durable. For tests and harnesses.",
)

sandbox = ProviderPlugin(
    name="sandbox",
    config_type=SandboxConfig,
    open=open_sandbox,
    description="A simulated WhatsApp that accepts, delivers, reads, fails and answers on cue.",
)
