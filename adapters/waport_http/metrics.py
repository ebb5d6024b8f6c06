"""The gateway's Prometheus metrics, through ``prometheus_client`` (a registry per gateway,
no global state).

Counters end in ``_total``; latencies are histograms in seconds: HTTP requests (by
route template and method), provider sends (by provider and outcome) and store commits.
``waport_build_info`` names the version; the process and platform collectors add CPU,
memory, file descriptors and the Python version. Every label set is bounded: routes are
templates, methods outside the standard ones are ``other``, statuses are numbers.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from waport import __version__
from waport.domain.errors import WaportError
from waport.ports import Provider, Store, Transaction

METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# from a cached lookup (sub-millisecond) to a provider's slow answer
LATENCY_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
# the Provider port's properties: fixed for a provider's life
STABLE: Final = frozenset(
    {
        "name", "capabilities", "receiver", "handshake", "events",
        "sandbox", "downloads", "numbers", "template_admin",
    }
)  # fmt: skip


class _Relay(Collector):
    """The webhook relay's running totals, read when scraped."""

    def __init__(self) -> None:
        self.relay: Any = None

    def collect(self) -> Iterator[Metric]:
        if self.relay is None:
            return
        for name, help_text, value in (
            (
                "waport_webhooks_delivered",
                "Outbound webhook deliveries",
                self.relay.delivered_total,
            ),
            (
                "waport_webhooks_failed",
                "Outbound webhook delivery failures",
                self.relay.failed_total,
            ),
        ):
            family = CounterMetricFamily(name, help_text)
            family.add_metric([], value)
            yield family


class Metrics:
    """The gateway's metrics and their exposition."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._requests = Counter(
            "waport_http_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=registry,
        )
        self._request_seconds = Histogram(
            "waport_http_request_duration_seconds",
            "Time to answer an HTTP request (an event stream: until it ends)",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._accepted = Counter(
            "waport_messages_accepted", "Messages accepted", ["mode"], registry=registry
        )
        self._webhook_events = Counter(
            "waport_webhook_events", "Provider events received", ["provider"], registry=registry
        )
        self._provider_seconds = Histogram(
            "waport_provider_call_duration_seconds",
            "Time a provider took to take (or refuse) a message",
            ["provider", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._commit_seconds = Histogram(
            "waport_store_commit_duration_seconds",
            "Time a store transaction took to commit (durable)",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._messages = Gauge(
            "waport_messages", "Stored messages by status", ["status"], registry=registry
        )
        self._outbox = Gauge(
            "waport_outbox_pending",
            "Outbound webhook events waiting for delivery",
            registry=registry,
        )
        Info("waport_build", "The waport version serving", registry=registry).info(
            {"version": __version__, "python": platform.python_version()}
        )
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        self._relay = _Relay()
        registry.register(self._relay)

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        children = self._children.get((route, method, status))
        if children is None:  # once per label set (bounded): no labels() call per request
            shown = method if method in METHODS else "other"
            children = (
                self._requests.labels(route, shown, str(status)),
                self._request_seconds.labels(route, shown),
            )
            self._children[(route, method, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def accepted(self, mode: str) -> None:
        self._accepted.labels(mode).inc()

    def webhook_events(self, provider: str, count: int) -> None:
        self._webhook_events.labels(provider).inc(count)

    def watch_relay(self, relay: Any) -> None:
        """Expose ``relay``'s ``delivered_total`` and ``failed_total`` as counters."""
        self._relay.relay = relay

    def render(self, messages: Mapping[str, int], outbox_pending: int) -> bytes:
        """The exposition, with the store's backlog as it is now."""
        self._messages.clear()  # a status with no message left is gone, not stale
        for status, count in messages.items():
            self._messages.labels(status).set(count)
        self._outbox.set(outbox_pending)
        return generate_latest(self.registry)

    def instrument(self, store: Store, provider: Provider) -> tuple[Store, Provider]:
        """``store`` and ``provider`` timed: each commit, and each send to the provider."""
        return _TimedStore(store, self._commit_seconds), _TimedProvider(
            provider, self._provider_seconds
        )


class _TimedStore:
    def __init__(self, inner: Store, seconds: Histogram) -> None:
        self._inner = inner
        self._seconds = seconds

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        setattr(self, name, found)  # a store's parts do not change: look up once
        return found

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        return _TimedCommit(self._inner.transaction(), self._seconds)


class _TimedCommit:
    """A transaction whose commit (its exit without an error) is timed; a class, not a
    generator: it is on every send's path."""

    __slots__ = ("_inner", "_seconds")

    def __init__(self, inner: AbstractAsyncContextManager[Transaction], seconds: Histogram) -> None:
        self._inner = inner
        self._seconds = seconds

    async def __aenter__(self) -> Transaction:
        return await self._inner.__aenter__()

    async def __aexit__(self, *exc: Any) -> bool | None:
        started = time.perf_counter()
        swallowed = await self._inner.__aexit__(*exc)
        if exc[0] is None:
            self._seconds.observe(time.perf_counter() - started)
        return swallowed


class _TimedProvider:
    def __init__(self, inner: Provider, seconds: Histogram) -> None:
        self._inner = inner
        self._seconds = seconds
        self._outcomes: dict[str, Any] = {}  # outcome -> its histogram child

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if callable(found) or name in STABLE:  # once; anything else (a test's) each time
            setattr(self, name, found)
        return found

    async def send(self, message: Any, **options: Any) -> Any:
        started, outcome = time.perf_counter(), "accepted"
        try:
            return await self._inner.send(message, **options)
        except WaportError as err:
            outcome = "retryable" if err.retryable else "refused"
            raise
        except BaseException:
            outcome = "error"
            raise
        finally:
            child = self._outcomes.get(outcome)
            if child is None:
                child = self._outcomes[outcome] = self._seconds.labels(self._inner.name, outcome)
            child.observe(time.perf_counter() - started)
