"""The composition root: settings -> store (with its media store), provider, Messenger.

``waport serve`` and every CLI command open their parts here, and so can an integrator
who composes waport without its HTTP gateway::

    from waport.service.compose import Composition, open_messenger

    async with open_messenger(Composition(database="./waport.db", provider="sandbox")) as m:
        await m.send(...)

Plugins are found by name in the installed entry points (``waport.stores``,
``waport.providers``); ``plugin_settings`` builds each one's configuration (the gateway
reads it from the ``[name]`` table of its TOML file and ``WAPORT_NAME_*`` variables).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Final

import attrs

from waport.plugins import PluginContext, Registry
from waport.ports import Clock, IdSource, Provider, Store, UrlGuard
from waport.service.changes import Changes
from waport.service.clock import RandomIds, SystemClock
from waport.service.core import Policy
from waport.service.messenger import Messenger

WEBHOOK_SECRET_PREFIX: Final = "whsec_"


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _defaults(_name: str, cls: type[Any]) -> Any:
    return cls()


@attrs.frozen(kw_only=True)
class Composition:
    """What to open: which store and provider, and how the service behaves."""

    database: str = "./waport.db"
    """A SQLite path, ``memory:`` or a ``postgresql://`` URL: it chooses the store plugin."""
    provider: str = "sandbox"
    """The provider plugin's name (``sandbox``, ``meta``, ``web`` or another installed one)."""
    policy: Policy = attrs.Factory(Policy)
    webhook_url: str | None = None
    """The default workspace's webhook URL, unless it has one already."""
    webhook_secret: str | None = attrs.field(default=None, repr=False)
    """The default workspace's signing secret; generated at first start if unset."""
    plugin_settings: Callable[[str, type[Any]], Any] = _defaults
    """A plugin's configuration from its name and configuration class (default: the
    class's defaults)."""


@asynccontextmanager
async def open_messenger(
    composition: Composition,
    *,
    registry: Registry | None = None,
    clock: Clock | None = None,
    ids: IdSource | None = None,
    http: Any = None,
    url_guard: UrlGuard | None = None,
    changes: Changes | None = None,
    instrument: Callable[[Store, Provider], tuple[Store, Provider]] | None = None,
) -> AsyncIterator[Messenger]:
    """Open the store and the provider, bootstrap the default workspace (with its
    webhook URL and secret) and yield the Messenger; everything closes when the block
    ends. ``http``: an ``aiohttp.ClientSession`` the plugins share (without one, each
    plugin that speaks HTTP opens its own); ``url_guard`` checks the URLs callers give;
    ``changes`` receives every committed message change; ``instrument`` wraps the
    opened store and provider (the gateway times commits and provider calls)."""
    registry = registry or Registry.from_entry_points()
    clock = clock or SystemClock()
    ids = ids or RandomIds()
    ctx = PluginContext(clock=clock, ids=ids, http=http)
    async with AsyncExitStack() as stack:
        store_plugin = registry.store_for(composition.database)
        store_config = attrs.evolve(
            composition.plugin_settings(store_plugin.name, store_plugin.config_type),
            url=composition.database,
        )
        store = await stack.enter_async_context(store_plugin.open(store_config, ctx))
        provider_plugin = registry.provider(composition.provider)
        provider_config = composition.plugin_settings(
            provider_plugin.name, provider_plugin.config_type
        )
        provider = await stack.enter_async_context(provider_plugin.open(provider_config, ctx))
        if instrument is not None:
            store, provider = instrument(store, provider)
        messenger = Messenger(
            store=store,
            provider=provider,
            clock=clock,
            ids=ids,
            policy=composition.policy,
            url_guard=url_guard,
            changes=changes,
        )
        workspace = await messenger.bootstrap()
        webhook_url = workspace.webhook_url or composition.webhook_url
        webhook_secret = (
            composition.webhook_secret or workspace.webhook_secret or new_webhook_secret()
        )
        if (webhook_url, webhook_secret) != (workspace.webhook_url, workspace.webhook_secret):
            await store.workspaces.put(
                attrs.evolve(workspace, webhook_url=webhook_url, webhook_secret=webhook_secret)
            )
            messenger.invalidate()
        yield messenger
