"""The URL rule: ``URL_PATTERN`` is what the OpenAPI document states and what
``check_http_url`` applies, so a fuzzer's schema-valid URL is accepted; and every
accepted URL is one the gateway can call (``urlsplit`` and the gateway's egress
parser find an http(s) scheme, a host and no credentials; no whitespace anywhere)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waport.domain.errors import WaportError
from waport.domain.limits import URL_MAX
from waport.domain.urls import URL_PATTERN, check_http_url
from waport_http import egress


def _accepts(text: str) -> bool:
    try:
        check_http_url(text, "url")
    except WaportError:
        return False
    return True


@given(st.from_regex(URL_PATTERN, fullmatch=True).filter(lambda u: len(u) <= URL_MAX))
def test_every_url_of_the_pattern_is_accepted(url: str) -> None:
    assert _accepts(url)


_PIECES = st.sampled_from(
    [
        "http://",
        "https://",
        "HTTP://",
        "ftp://",
        "//",
        "[",
        "]",
        "::1",
        "@",
        ":",
        "/",
        "?",
        "#",
        " ",
        "\n",
        "\xa0",
        "a",
        "ä",
        "1",
        ".",
        "%",
        "127.0.0.1",
        "[::ffff:1.2.3.4]",
    ]
)
_NEAR_MISSES = st.lists(st.one_of(_PIECES, st.characters()), max_size=12).map("".join)


@given(
    st.one_of(_NEAR_MISSES, st.from_regex(URL_PATTERN), st.from_regex(URL_PATTERN, fullmatch=True))
)
def test_an_accepted_url_is_one_the_gateway_can_call(text: str) -> None:
    if not _accepts(text):
        return
    parts = urlsplit(text)
    assert parts.scheme in ("http", "https")
    assert parts.hostname
    assert not any(c.isspace() for c in text)
    if parts.netloc.startswith("["):
        assert ipaddress.ip_address(parts.hostname).version == 6
    egress.parse_url(text, "url")  # the gateway's own parser takes it: a host, no credentials


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/h",
        "https://a.example:8443/x?y#z",
        "HTTPS://X",
        "http://xn--bcher-kva.example/",
    ],
)
def test_urls_waport_takes(url: str) -> None:
    assert _accepts(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "http://[1.2.3.4]/",
        "http://bücher.example/",
        "http://a b/",
        "http://a\n",
        "http:///path",
        "http://@/",
        "http://" + "a" * URL_MAX,
    ],
)
def test_urls_waport_refuses(url: str) -> None:
    assert not _accepts(url)
