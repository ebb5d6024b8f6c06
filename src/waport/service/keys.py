"""API keys, as a use case: issue, list, revoke, authenticate, and the first admin key.

Keys are ``wpk_<id>_<secret><check>``, stored as a digest, compared in constant time.

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
import logging
import re
import secrets
import string
import zlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.ratelimit import RateDecision, RateLimit
from waport.domain.records import SCOPES, ApiKey, Workspace
from waport.ports import Clock, Store
from waport.service.core import Core

log = logging.getLogger("waport.keys")
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


# ----------------------------------------------------------------------------- use cases


async def authenticate(core: Core, presented: str | None, pepper: str | None) -> ApiKey:
    """The live key ``presented`` names; ``INVALID_API_KEY`` for every failure."""
    key_id = parse(presented)
    record = await core.lookups.api_key(key_id)
    return verify(presented or "", record, pepper)


async def count_request(core: Core, key: ApiKey, default_per_minute: int) -> RateDecision:
    """Count one request against the key's rate (its own, or ``default_per_minute``)."""
    limit = key.rate_per_minute or default_per_minute
    return await core.store.rate_limits.hit(
        f"key:{key.id}", RateLimit(limit, timedelta(minutes=1)), now=core.clock.now()
    )


async def create_key(
    core: Core,
    actor: ApiKey,
    *,
    scopes: frozenset[str],
    pepper: str | None,
    senders: frozenset[str] | None = None,
    rate_per_minute: int | None = None,
    label: str = "",
) -> NewKey:
    """A new key in the actor's workspace that grants no more than the actor: no other
    scopes, no other senders, no higher rate (without one, it gets the actor's)."""
    if not actor.covers(senders):
        raise WaportError(
            ErrorCode.FORBIDDEN,
            "a key limited to some senders may create keys only for those senders",
            "senders",
        )
    if not all(actor.allows(scope) for scope in scopes):
        raise WaportError(
            ErrorCode.FORBIDDEN, "a key may grant only scopes it has itself", "scopes"
        )
    if rate_per_minute is None:
        rate_per_minute = actor.rate_per_minute
    elif actor.rate_per_minute is not None and rate_per_minute > actor.rate_per_minute:
        raise WaportError(
            ErrorCode.FORBIDDEN,
            f"a key may grant at most its own rate ({actor.rate_per_minute} per minute)",
            "rate_per_minute",
        )
    new = issue(
        workspace_id=actor.workspace_id,
        scopes=scopes,
        now=core.clock.now(),
        pepper=pepper,
        senders=senders,
        rate_per_minute=rate_per_minute,
        label=label,
    )
    await core.store.api_keys.add(new.record)
    log.info(
        "API key %s created by %s (scopes %s, senders %s, rate %s)",
        new.record.id,
        actor.id,
        ",".join(sorted(scopes)),
        "all" if senders is None else ",".join(sorted(senders)),
        rate_per_minute or "default",
    )
    return new


async def list_keys(core: Core, actor: ApiKey) -> list[ApiKey]:
    """The keys of the actor's workspace within the actor's senders."""
    return [
        k for k in await core.store.api_keys.list(actor.workspace_id) if actor.covers(k.senders)
    ]


async def revoke_key(core: Core, actor: ApiKey, key_id: str) -> ApiKey:
    target = await core.store.api_keys.get(key_id)
    if target is None or target.workspace_id != actor.workspace_id:
        raise WaportError(ErrorCode.NOT_FOUND, "no such API key", "key_id")
    if not actor.covers(target.senders):
        raise WaportError(
            ErrorCode.FORBIDDEN,
            "a key limited to some senders may revoke keys only within those senders",
            "key_id",
        )
    async with core.key_changes:
        if target.allows("admin") and target.revoked_at is None:
            others = [
                k
                for k in await core.store.api_keys.list(actor.workspace_id)
                if k.allows("admin") and k.revoked_at is None and k.id != target.id
            ]
            if not others:
                raise WaportError(ErrorCode.LAST_ADMIN_KEY, "this is the last admin key", "key_id")
        await core.store.api_keys.revoke(target.id, at=core.clock.now())
    log.info("API key %s revoked by %s", target.id, actor.id)
    core.lookups.invalidate()
    revoked = await core.store.api_keys.get(target.id)
    return revoked or target


async def ensure_admin_key(
    core: Core, pepper: str | None, workspace_id: str | None = None
) -> str | None:
    """On a database with no API keys, create an admin key and return it (shown once)."""
    store = core.store
    if await store.api_keys.list():
        return None
    workspace_id = workspace_id or core.default_workspace
    if await store.workspaces.get(workspace_id) is None:
        await store.workspaces.put(
            Workspace(id=workspace_id, name=workspace_id, messaging_tier=None)
        )
    new = issue(
        workspace_id=workspace_id,
        scopes=frozenset(SCOPES),
        now=core.clock.now(),
        pepper=pepper,
        label="first admin key",
    )
    await store.api_keys.add(new.record)
    return new.secret


# ----------------------------------------------------------------------------- the operator's


async def operator_issue(
    store: Store,
    clock: Clock,
    *,
    workspace_id: str,
    scopes: frozenset[str],
    pepper: str | None,
    senders: frozenset[str] | None = None,
    rate_per_minute: int | None = None,
    label: str = "",
    default_workspace: str = "default",
) -> NewKey:
    """A key made by whoever holds the database (``waport keys create``), in an existing
    workspace (the default one is created at the gateway's first start)."""
    if workspace_id != default_workspace and await store.workspaces.get(workspace_id) is None:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            f"no workspace {workspace_id!r} in this database",
            "workspace",
        )
    new = issue(
        workspace_id=workspace_id,
        scopes=scopes,
        now=clock.now(),
        pepper=pepper,
        senders=senders,
        rate_per_minute=rate_per_minute,
        label=label,
    )
    await store.api_keys.add(new.record)
    return new


async def operator_list(store: Store, workspace_id: str | None) -> Sequence[ApiKey]:
    return await store.api_keys.list(workspace_id)


async def operator_revoke(store: Store, clock: Clock, key_id: str) -> bool:
    """Revoke a live key; False when there is none with this id."""
    return await store.api_keys.revoke(key_id, at=clock.now())
