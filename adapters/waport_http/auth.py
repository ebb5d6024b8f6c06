"""API keys over HTTP: where a request carries its key. The key format, its digest and
the key use cases are the service's (``waport.service.keys``), re-exported here."""

from __future__ import annotations

from waport.service.keys import (
    INVALID_MESSAGE,
    MAX_RATE_PER_MINUTE,
    NewKey,
    digest,
    invalid,
    issue,
    parse,
    verify,
)

__all__ = [
    "INVALID_MESSAGE",
    "MAX_RATE_PER_MINUTE",
    "NewKey",
    "digest",
    "from_headers",
    "invalid",
    "issue",
    "parse",
    "verify",
]


def from_headers(authorization: str | None, x_api_key: str | None) -> str | None:
    """``Authorization: Bearer <key>`` or ``X-Api-Key: <key>``."""
    if x_api_key:
        return x_api_key
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value:
            return value
    return None
