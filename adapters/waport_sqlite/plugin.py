"""Entry-point descriptor: the ``sqlite`` store (waport's embedded default)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs

from waport.domain.errors import ConfigError
from waport.plugins import PluginContext, StorePlugin
from waport_sqlite.store import SqliteStore, open_sqlite


@attrs.frozen(kw_only=True)
class SqliteConfig:
    url: str = "./waport.db"
    """A file path, or ``sqlite:///path``."""
    synchronous: str = "FULL"
    """``FULL`` (durable across power loss) or ``NORMAL`` (survives process crashes only)."""


def path_of(url: str) -> str:
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :] or "waport.db"
    if url.startswith("sqlite://"):
        return url[len("sqlite://") :] or "waport.db"
    return url


def accepts(url: str) -> bool:
    return "://" not in url or url.startswith("sqlite:")


@asynccontextmanager
async def open_store(config: SqliteConfig, ctx: PluginContext) -> AsyncIterator[SqliteStore]:
    if config.synchronous.upper() not in ("FULL", "NORMAL"):
        raise ConfigError("sqlite synchronous must be FULL or NORMAL")
    async with open_sqlite(path_of(config.url), synchronous=config.synchronous) as store:
        yield store


plugin = StorePlugin(
    name="sqlite",
    config_type=SqliteConfig,
    open=open_store,
    accepts=accepts,
    description="One SQLite file in WAL mode with group commit: durable and fast on one machine.",
)
