"""API keys: ``wpk_<id>_<secret><check>``, stored as a digest, compared in constant time.

* ``id`` (12 base62 characters) is public and indexed;
* ``secret`` is 32 base62 characters (about 190 bits) from ``secrets``;
* ``check`` is 6 base62 characters of CRC-32 over the rest, so a mistyped or
  random string is refused before any database lookup (and secret scanners can
  recognise real keys).

The store keeps ``HMAC-SHA256(pepper, key)`` (SHA-256 when no pepper is
configured): keys are high-entropy, so a fast digest is safe and lookups stay O(1).
Every failure - missing, malformed, bad checksum, unknown, wrong, revoked - is
the same 401 ``INVALID_API_KEY`` with the same body.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import zlib
from datetime import datetime
from typing import Final

import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.records import SCOPES, ApiKey

_ALPHABET: Final = string.digits + string.ascii_letters
_KEY: Final = re.compile(r"wpk_([0-9A-Za-z]{12})_([0-9A-Za-z]{32})([0-9A-Za-z]{6})")
INVALID_MESSAGE: Final = "the API key is missing, malformed, unknown or revoked"


def invalid() -> WaportError:
    """The one answer to every authentication failure."""
    return WaportError(ErrorCode.INVALID_API_KEY, INVALID_MESSAGE)


def _base62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, rem = divmod(n, 62)
        out.append(_ALPHABET[rem])
    return "".join(reversed(out))


def _check(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), 6)


def digest(key: str, pepper: str | None) -> str:
    if pepper:
        return hmac.new(pepper.encode(), key.encode(), hashlib.sha256).hexdigest()
    return hashlib.sha256(key.encode()).hexdigest()


@attrs.frozen
class NewKey:
    """A freshly issued key: ``secret`` is shown once and never stored."""

    record: ApiKey
    secret: str = attrs.field(repr=False)


MAX_RATE_PER_MINUTE: Final = 1_000_000
"""The fastest a key may be allowed (the limiter counts in microseconds)."""


def issue(
    *,
    workspace_id: str,
    scopes: frozenset[str],
    now: datetime,
    pepper: str | None,
    senders: frozenset[str] | None = None,
    rate_per_minute: int | None = None,
    label: str = "",
) -> NewKey:
    unknown = scopes - SCOPES
    if unknown or not scopes:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, f"scopes are some of {', '.join(sorted(SCOPES))}", "scopes"
        )
    if rate_per_minute is not None and not 1 <= rate_per_minute <= MAX_RATE_PER_MINUTE:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            f"rate_per_minute is an integer from 1 to {MAX_RATE_PER_MINUTE}",
            "rate_per_minute",
        )
    key_id = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(32))
    body = f"wpk_{key_id}_{secret}"
    full = body + _check(body)
    record = ApiKey(
        id=key_id,
        workspace_id=workspace_id,
        digest=digest(full, pepper),
        scopes=scopes,
        senders=senders,
        rate_per_minute=rate_per_minute,
        label=label,
        hint=full[-4:],
        created_at=now,
    )
    return NewKey(record=record, secret=full)


def parse(presented: str | None) -> str:
    """The key id of a well-formed key; ``INVALID_API_KEY`` otherwise (no lookup needed)."""
    if not presented:
        raise invalid()
    match = _KEY.fullmatch(presented.strip())
    if match is None or not hmac.compare_digest(_check(presented.strip()[:-6]), match.group(3)):
        raise invalid()
    return match.group(1)


def verify(presented: str, record: ApiKey | None, pepper: str | None) -> ApiKey:
    """The key's record if ``presented`` matches it and it is live; ``INVALID_API_KEY`` otherwise."""
    expected = record.digest if record is not None else "0" * 64
    ok = hmac.compare_digest(digest(presented.strip(), pepper), expected)
    if record is None or not ok or record.revoked_at is not None:
        raise invalid()
    return record


def from_headers(authorization: str | None, x_api_key: str | None) -> str | None:
    """``Authorization: Bearer <key>`` or ``X-Api-Key: <key>``."""
    if x_api_key:
        return x_api_key
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value:
            return value
    return None
