"""Plugin descriptors and the registry that finds them through entry points.

An entry point in ``waport.providers`` or ``waport.stores`` names a small frozen
descriptor, not a class, so loading it imports nothing heavy. ``open`` returns an
async context manager: the plugin owns the adapter's lifetime.

    [project.entry-points."waport.providers"]
    twilio = "waport_twilio.plugin:plugin"
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from waport.domain.errors import ConfigError
from waport.ports import Clock, IdSource, Provider, Store

if TYPE_CHECKING:
    import aiohttp

C = TypeVar("C")

PROVIDER_GROUP = "waport.providers"
STORE_GROUP = "waport.stores"


@attrs.frozen(kw_only=True)
class PluginContext:
    """What the composition root hands every plugin."""

    clock: Clock
    ids: IdSource
    http: aiohttp.ClientSession | None = None
    """The application's shared HTTP session; a plugin given one never closes it
    (``waport.httpkit.session_for(ctx)`` gives it, or a session of the plugin's own)."""
    logger: logging.Logger = attrs.field(factory=lambda: logging.getLogger("waport"))


@attrs.frozen(kw_only=True)
class ProviderPlugin(Generic[C]):
    name: str
    config_type: type[C]
    open: Callable[[C, PluginContext], AbstractAsyncContextManager[Provider]]
    install_hint: str = ""
    description: str = ""


@attrs.frozen(kw_only=True)
class StorePlugin(Generic[C]):
    name: str
    config_type: type[C]
    open: Callable[[C, PluginContext], AbstractAsyncContextManager[Store]]
    accepts: Callable[[str], bool] = attrs.field(default=lambda url: False)
    """Whether this store handles a ``WAPORT_DATABASE`` value (a path or a URL)."""
    install_hint: str = ""
    description: str = ""


def _load(group: str, kind: type[Any], *, override: bool) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for ep in entry_points(group=group):
        try:
            obj = ep.load()
        except Exception as exc:
            dist = ep.dist.name if ep.dist else "?"
            raise ConfigError(
                f"entry point {ep.name!r} ({group}) of {dist} failed to load: {exc}"
            ) from exc
        if not isinstance(obj, kind):
            dist = ep.dist.name if ep.dist else "?"
            raise ConfigError(
                f"entry point {ep.name!r} ({group}) of {dist} is {type(obj).__name__}, not a {kind.__name__}"
            )
        if ep.name in found and not override:
            raise ConfigError(f"two plugins are named {ep.name!r} in {group}; uninstall one")
        found[ep.name] = obj
    return found


@attrs.frozen
class Registry:
    """Name -> descriptor maps. Build one from entry points, or directly in tests."""

    providers: Mapping[str, ProviderPlugin[Any]] = attrs.field(factory=dict)
    stores: Mapping[str, StorePlugin[Any]] = attrs.field(factory=dict)

    @classmethod
    def from_entry_points(cls, *, override: bool = False) -> Registry:
        return cls(
            providers=_load(PROVIDER_GROUP, ProviderPlugin, override=override),
            stores=_load(STORE_GROUP, StorePlugin, override=override),
        )

    def provider(self, name: str) -> ProviderPlugin[Any]:
        try:
            return self.providers[name]
        except KeyError:
            raise ConfigError(
                f"no provider plugin {name!r}; installed: {', '.join(sorted(self.providers)) or 'none'}"
                " (a third-party provider is installed with pip and registers the 'waport.providers' entry point)"
            ) from None

    def store(self, name: str) -> StorePlugin[Any]:
        try:
            return self.stores[name]
        except KeyError:
            raise ConfigError(
                f"no store plugin {name!r}; installed: {', '.join(sorted(self.stores)) or 'none'}"
            ) from None

    def store_for(self, url: str) -> StorePlugin[Any]:
        """The store plugin that accepts a database path or URL."""
        for plugin in self.stores.values():
            if plugin.accepts(url):
                return plugin
        raise ConfigError(
            f"no installed store accepts the database {url!r}; installed: {', '.join(sorted(self.stores))}"
        )
