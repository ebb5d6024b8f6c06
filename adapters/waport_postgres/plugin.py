"""Entry-point descriptor: the ``postgres`` store (``WAPORT_DATABASE=postgresql://...``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs

from waport.domain.errors import ConfigError
from waport.plugins import PluginContext, StorePlugin
from waport.ports import Store


@attrs.frozen(kw_only=True)
class PostgresConfig:
    url: str = attrs.field(default="postgresql://localhost/waport", repr=False)
    """A ``postgresql://user:password@host:port/database`` URL."""
    pool_min: int = 2
    pool_max: int = 20
    """Connections per gateway process."""
    schema: str = ""
    """Put waport's tables in this schema (created if missing); empty: the default."""


def accepts(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


@asynccontextmanager
async def open_store(config: PostgresConfig, ctx: PluginContext) -> AsyncIterator[Store]:
    # imported here: the plugin is listed (and SQLite works) without the optional driver
    try:
        from waport_postgres.store import open_postgres
    except ImportError as exc:
        raise ConfigError(
            f'the PostgreSQL store needs asyncpg: pip install "waport[postgres]" ({exc})'
        ) from None
    async with open_postgres(
        config.url, min_size=config.pool_min, max_size=config.pool_max, schema=config.schema or None
    ) as store:
        yield store


plugin = StorePlugin(
    name="postgres",
    config_type=PostgresConfig,
    open=open_store,
    accepts=accepts,
    install_hint='pip install "waport[postgres]"',
    description="PostgreSQL shared by several gateway processes: SKIP LOCKED claims, shared limits.",
)
