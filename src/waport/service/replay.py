"""Idempotent replay: what a request carrying an ``Idempotency-Key`` meets, and the
answer kept for the next one (DESIGN §5).

The decision is ``lifecycle.key_state``; this module reads the record, and for a first
request whose process died after storing its rows (no answer kept) it finds those rows,
so the caller can answer from them as the first request would have.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import attrs

from waport.domain import lifecycle
from waport.domain.records import MessageRecord, StoredResponse
from waport.service.core import Core, IdempotencyClaim


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def claim_for(scope: str, key: str, route: str, body: Any) -> IdempotencyClaim:
    """The claim of a request: its key within ``scope`` and a hash of route and body."""
    fingerprint = hashlib.sha256(route.encode() + b"\n" + canonical_json(body)).hexdigest()
    return IdempotencyClaim(scope=scope, key=key, fingerprint=fingerprint)


@attrs.frozen(kw_only=True)
class Earlier:
    """What an earlier request with the same key left: its answer, or (it died before
    answering) the rows it stored."""

    response: StoredResponse | None = None
    rows: Sequence[MessageRecord] = ()


async def earlier(core: Core, claim: IdempotencyClaim) -> Earlier | None:
    """``None`` when the request is the first; raises ``IDEMPOTENCY_KEY_REUSED`` or
    ``IDEMPOTENCY_IN_PROGRESS`` as ``lifecycle.key_state`` decides."""
    now = core.clock.now()
    record = await core.store.idempotency.get(claim.scope, claim.key, now=now)
    state = lifecycle.key_state(record, claim.fingerprint, now)
    if record is None or state is lifecycle.KeyState.FRESH:
        return None
    if state is lifecycle.KeyState.REPLAY:
        return Earlier(response=record.response)
    rows = [await core.store.messages.get(mid) for mid in record.message_ids]
    return Earlier(rows=[row for row in rows if row is not None])


async def complete(core: Core, claim: IdempotencyClaim, response: StoredResponse) -> None:
    """Keep the answer for the requests that repeat this one."""
    await core.store.idempotency.complete(claim.scope, claim.key, response)
