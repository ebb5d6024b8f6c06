"""``GET /metrics`` over HTTP: only for the metrics token or an admin key; written by
``prometheus_client`` and read back by its parser: counters with ``_total``, the
request, provider-call and commit histograms, the build info, the process collector,
and bounded labels."""

from __future__ import annotations

import platform

import pytest
from prometheus_client.parser import text_string_to_metric_families

import waport

from .conftest import Harness
from .test_api import template_body

pytestmark = pytest.mark.anyio


async def test_metrics_parse_and_show_the_histograms(gw: Harness) -> None:
    await gw.post("/v1/messages", template_body())
    async with gw.http.get(gw.base + "/metrics") as r:
        assert r.status == 401  # message counts are not for the public
    async with gw.http.get(gw.base + "/metrics", headers=gw.headers()) as r:
        text = await r.text()
        assert r.headers["Content-Type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    assert samples[("waport_messages", (("status", "sent"),))] == 1
    assert samples[("waport_messages_accepted_total", (("mode", "template"),))] == 1
    sent = (
        "waport_http_requests_total",
        (("method", "POST"), ("route", "/v1/messages"), ("status", "200")),
    )
    assert samples[sent] == 1
    for histogram in (
        "waport_http_request_duration_seconds",
        "waport_provider_call_duration_seconds",
        "waport_store_commit_duration_seconds",
    ):
        assert families[histogram].type == "histogram", histogram
        counts = [s.value for s in families[histogram].samples if s.name.endswith("_count")]
        assert sum(counts) >= 1, histogram  # something was timed
    provider = [s.labels for s in families["waport_provider_call_duration_seconds"].samples]
    assert {"provider": "sandbox", "outcome": "accepted", "le": "+Inf"} in provider
    assert families["waport_build_info"].type == "gauge"  # Prometheus's info convention
    assert (
        samples[
            (
                "waport_build_info",
                (("python", platform.python_version()), ("version", waport.__version__)),
            )
        ]
        == 1
    )
    assert families["process_cpu_seconds"].type == "counter"  # the process collector
    for name in ("waport_webhooks_delivered", "waport_webhooks_failed"):
        assert families[name].type == "counter"
        assert (name + "_total", ()) in samples
    # a method nobody routes is one label value, not one per invented method
    for method in ("PROPFIND", "TRACE"):  # methods HTTP knows, that waport routes nowhere
        async with gw.http.request(method, gw.base + "/v1/messages", headers=gw.headers()) as r:
            assert r.status == 405
    async with gw.http.get(gw.base + "/metrics", headers=gw.headers()) as r:
        again = await r.text()
    assert 'method="other"' in again
    assert 'method="PROPFIND"' not in again
