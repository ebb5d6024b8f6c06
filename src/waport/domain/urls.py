"""The URLs waport takes (webhooks, media to fetch, buttons): absolute http or https,
a host, no credentials, no whitespace, at most ``URL_MAX`` characters.

``URL_PATTERN`` is the rule itself (ECMA-262, as JSON Schema reads it; the same in
Python): the OpenAPI document states it and ``check_http_url`` applies it, so a URL
is accepted exactly when it matches. A host is a name of letters, digits, ``.``,
``-``, ``_`` and ``~`` (an internationalised name in its ``xn--`` form), an IPv4
address, or an IPv6 address in brackets; a port is 0-65535. Whether waport may
*call* the URL (not a private address) is checked when it calls.
"""

from __future__ import annotations

import re
from typing import Any, Final

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.limits import URL_MAX
from waport.domain.recipients import WHITESPACE


def _ipv6() -> str:
    h16 = "[0-9A-Fa-f]{1,4}"
    octet = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
    ls32 = rf"(?:{h16}:{h16}|{octet}(?:\.{octet}){{3}})"
    forms = [rf"(?:{h16}:){{6}}{ls32}", rf"::(?:{h16}:){{5}}{ls32}"]
    for before, after in ((0, 4), (1, 3), (2, 2), (3, 1)):
        head = f"(?:(?:{h16}:){{0,{before}}}{h16})?" if before else f"(?:{h16})?"
        forms.append(rf"{head}::(?:{h16}:){{{after}}}{ls32}")
    forms.append(rf"(?:(?:{h16}:){{0,4}}{h16})?::{ls32}")
    forms.append(rf"(?:(?:{h16}:){{0,5}}{h16})?::{h16}")
    forms.append(rf"(?:(?:{h16}:){{0,6}}{h16})?::")
    return "(?:" + "|".join(forms) + ")"


def _pattern() -> str:
    space = "".join(f"\\u{ord(c):04x}" for c in WHITESPACE)
    name = r"[A-Za-z0-9._~-]+"
    host = rf"(?:{name}|\[{_ipv6()}\])"
    port = "(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
    return rf"^[Hh][Tt][Tt][Pp][Ss]?://{host}(?::{port}?)?(?:[/?#][^{space}]*)?$"


URL_PATTERN: Final = _pattern()
_URL: Final = re.compile(URL_PATTERN)


def check_http_url(value: Any, param: str | None) -> None:
    """``value`` matches ``URL_PATTERN`` and is at most ``URL_MAX`` characters."""
    if not isinstance(value, str) or len(value) > URL_MAX:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            f"must be an http(s) URL of at most {URL_MAX} characters",
            param,
        )
    if not _URL.fullmatch(value):
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, "must be an absolute http or https URL", param
        )
