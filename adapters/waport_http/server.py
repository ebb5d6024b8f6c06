"""The gateway's composition: configuration -> ``waport.service.compose`` (store,
provider, Messenger), then the webhook relay and the HTTP app.

Every resource is opened in one ``AsyncExitStack`` and every background loop (the
dispatcher, the webhook relay) runs in one task group that closes before the
resources do. ``serve`` adds the listening socket and graceful shutdown: on
SIGTERM the socket stops accepting, in-flight requests finish (up to
``shutdown_timeout_seconds``), background loops stop, and queued messages stay
queued in the store for the next start.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
import anyio
import attrs
from aiohttp import web

from waport.domain import consent
from waport.domain.errors import ConfigError
from waport.domain.ledger import CATEGORIES
from waport.plugins import Registry
from waport.ports import Clock, IdSource, Provider, Store
from waport.service import DEFAULT_WORKSPACE, Messenger, Policy, keys, tune_gc
from waport.service.changes import Changes
from waport.service.compose import Composition, open_messenger
from waport.service.lifetime import task_group
from waport_http.app import Gateway
from waport_http.config import LoadedConfig, Settings, shown_database
from waport_http.egress import CallerUrls, guarded_session
from waport_http.metrics import Metrics
from waport_http.relay import WebhookRelay

log = logging.getLogger("waport")


@attrs.define
class Running:
    """What ``open_gateway`` yields: the gateway, its app, and its parts for tests and tools."""

    gateway: Gateway
    app: web.Application
    messenger: Messenger
    store: Store
    provider: Provider
    relay: WebhookRelay
    config: LoadedConfig


def composition(loaded: LoadedConfig, *, sync_templates: bool = True) -> Composition:
    """The gateway's settings as the service's composition root takes them."""
    settings = loaded.settings
    return Composition(
        database=settings.database,
        provider=settings.provider,
        policy=Policy(
            lookup_cache_ttl=timedelta(seconds=settings.lookup_cache_seconds),
            dispatch_interval=settings.dispatch_interval_seconds,
            provider_timeout=settings.provider_timeout_seconds,
            attempt_lease=timedelta(seconds=settings.attempt_lease_seconds),
            idempotency_lease=timedelta(seconds=settings.idempotency_lease_seconds),
            outcome_window=timedelta(seconds=settings.outcome_window_seconds),
            retention=timedelta(days=settings.retention_days) if settings.retention_days else None,
            media_retention=(
                timedelta(days=settings.media_retention_days)
                if settings.media_retention_days
                else None
            ),
            sync_templates_on_start=sync_templates,
            inbound_media=settings.inbound_media,
            prices=parse_prices(settings.prices),
            **_consent_policy(settings),
        ),
        webhook_url=settings.webhook_url,
        webhook_secret=settings.webhook_secret,
        plugin_settings=loaded.plugin_config,
    )


@asynccontextmanager
async def open_components(
    loaded: LoadedConfig,
    *,
    registry: Registry | None = None,
    clock: Clock | None = None,
    ids: IdSource | None = None,
    sync_templates: bool = True,
    changes: Changes | None = None,
    metrics: Metrics | None = None,
) -> AsyncIterator[tuple[Messenger, aiohttp.ClientSession]]:
    """``open_messenger`` with the gateway's shared HTTP session and URL guard (no HTTP
    server, no background loops): what CLI commands need. ``sync_templates``: fetch the
    templates of a sender that has none at start; ``changes``: the feed of committed
    message changes (the gateway's event stream)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        guard = CallerUrls(allow_private=loaded.settings.allow_private_urls)
        async with open_messenger(
            composition(loaded, sync_templates=sync_templates),
            registry=registry,
            clock=clock,
            ids=ids,
            http=http,
            url_guard=guard,
            changes=changes,
            instrument=metrics.instrument if metrics is not None else None,
        ) as messenger:
            # by capability: Meta fetches media from its own servers and the sandbox
            # fetches nothing; a WhatsApp-Web server fetches from inside your network
            guard.guard_media = messenger.provider.capabilities.fetches_urls_locally
            yield messenger, http


@asynccontextmanager
async def open_gateway(
    loaded: LoadedConfig,
    *,
    registry: Registry | None = None,
    clock: Clock | None = None,
    ids: IdSource | None = None,
    background: bool = True,
) -> AsyncIterator[Running]:
    settings = loaded.settings
    changes, metrics = Changes(), Metrics()
    async with open_components(
        loaded, registry=registry, clock=clock, ids=ids, changes=changes, metrics=metrics
    ) as (messenger, http):
        store = messenger.store
        lookups = messenger.lookups

        async def secret_for(workspace_id: str) -> str | None:
            workspace = await store.workspaces.get(workspace_id)
            return workspace.webhook_secret if workspace else settings.webhook_secret

        async def trusted_url_for(workspace_id: str) -> str | None:
            workspace = await lookups.find_workspace(workspace_id)
            return workspace.webhook_url if workspace else None

        guarded = None if settings.allow_private_urls else guarded_session(allow_private=False)
        async with AsyncExitStack() as stack:
            if guarded is not None:
                stack.push_async_callback(guarded.close)
            relay = WebhookRelay(
                outbox=store.outbox,
                http=http,
                clock=messenger.clock,
                secret_for=secret_for,
                timeout=settings.webhook_timeout_seconds,
                guarded_http=guarded,
                trusted_url_for=trusted_url_for,
            )
            gateway = Gateway(
                messenger=messenger,
                relay=relay,
                pepper=settings.key_pepper,
                rate_limit_per_minute=settings.rate_limit_per_minute,
                max_body_bytes=settings.max_body_bytes,
                max_message_bytes=settings.max_message_bytes,
                max_upload_bytes=settings.max_upload_bytes,
                max_webhook_bytes=settings.max_webhook_bytes,
                body_timeout=settings.body_timeout_seconds,
                max_webhook_reads=settings.max_webhook_reads,
                access_log=settings.access_log,
                metrics_token=settings.metrics_token,
                metrics=metrics,
                on_ingest=messenger.wake,
            )
            metrics.watch_relay(relay)
            running = Running(
                gateway=gateway,
                app=gateway.app(),
                messenger=messenger,
                store=store,
                provider=messenger.provider,
                relay=relay,
                config=loaded,
            )
            async with task_group() as tg:
                if background:
                    await tg.start(messenger.run_dispatcher)
                    await tg.start(relay.run)
                try:
                    yield running
                finally:
                    changes.close()  # event streams end
                    tg.cancel_scope.cancel()


async def _listen(runner: web.AppRunner, settings: Settings) -> str:
    """Bind the gateway's address; its URL (with the port the system chose for port 0)."""
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as exc:  # in use, or not an address of this machine
        raise ConfigError(f"cannot listen on {settings.listen}: {exc.strerror or exc}") from exc
    host, port = runner.addresses[0][:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


async def _first_start(running: Running, settings: Settings, say: Callable[[str], None]) -> None:
    """On the first start, the operator's admin key (and a generated signing secret),
    shown this once."""
    admin = await keys.ensure_admin_key(running.messenger.core, settings.key_pepper)
    if admin is None:
        return
    workspace = await running.store.workspaces.get(DEFAULT_WORKSPACE)
    say("waport: first start - an admin API key was created. It is shown only this once:")
    say(f"  WAPORT_KEY={admin}")
    if workspace is not None and workspace.webhook_secret and not settings.webhook_secret:
        # generated here, so the operator has not seen it; one from the configuration
        # is never echoed
        say(f"  webhook signing secret: {workspace.webhook_secret}")


async def serve(
    loaded: LoadedConfig,
    *,
    registry: Registry | None = None,
    out: Callable[[str], None] | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Run the gateway until SIGTERM or SIGINT, then shut down gracefully."""
    settings = loaded.settings
    say = out or (lambda line: print(line, flush=True))
    async with open_gateway(loaded, registry=registry) as running:
        runner = web.AppRunner(
            running.app,
            access_log=None,
            shutdown_timeout=settings.shutdown_timeout_seconds,
            # aiohttp closes a connection whose (first or next) request has not arrived
            # whole within this: the header timeout against slow clients, and the idle one
            keepalive_timeout=settings.idle_timeout_seconds,
            # what aiohttp buffers of a body nobody reads yet (a webhook waiting for a
            # read slot) before it stops reading the socket
            read_bufsize=2**14,
        )
        await runner.setup()
        try:
            url = await _listen(runner, settings)
            # only once listening: a start that cannot bind creates no key to lose
            await _first_start(running, settings, say)
            tune_gc(settings.gc_threshold)
            loop = type(asyncio.get_running_loop()).__module__.split(".")[0]
            say(
                f"waport {running.provider.name} gateway listening on {url} (database: {shown_database(settings.database)}; event loop: {loop})"
            )
            if ready is not None:
                ready(url)
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    say(
                        f"waport: {signal.Signals(signum).name} received, finishing in-flight requests"
                    )
                    break
        finally:
            with anyio.CancelScope(shield=True):
                await runner.cleanup()
    say("waport: stopped; queued messages stay queued for the next start")


def parse_prices(entries: tuple[str, ...]) -> dict[str, int]:
    """``prices`` (``CATEGORY=amount`` entries) as ``Policy.prices``."""
    prices: dict[str, int] = {}
    for entry in entries:
        category, _, amount = entry.partition("=")
        category = category.strip().upper()
        if category not in CATEGORIES or not amount.strip().isdigit():
            raise ConfigError(
                f"prices: {entry!r} is not CATEGORY=amount with CATEGORY one of "
                f"{', '.join(CATEGORIES)} and a whole amount in the smallest unit"
            )
        prices[category] = int(amount)
    return prices


def _consent_policy(settings: Settings) -> dict[str, Any]:
    """The opt-out settings as ``Policy`` fields (keywords as ``classify`` compares them)."""
    opt_out, opt_in = consent.keyword_sets(settings.opt_out_keywords, settings.opt_in_keywords)
    return {
        "opt_out_keywords": opt_out,
        "opt_in_keywords": opt_in,
        "opt_out_blocked": frozenset(c.upper() for c in settings.opt_out_blocked_categories),
        "opt_out_reply": settings.opt_out_reply or None,
    }
