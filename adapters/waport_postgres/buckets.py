"""Rate-limit hits on PostgreSQL, a batch at a time: the domain's ``gcra`` decides each
hit in order against its bucket as the earlier hits left it, and the buckets that moved
are written in one round trip. The rule is the domain's alone (an upsert restated it in
SQL once). The TATs decided from are those the process saw last, the write checking
that each bucket still holds it (``Buckets``); where one had moved, the buckets are
locked in one statement and read, and the batch decided again.

Every process locks the buckets it hits until its batch commits, in the order of their
keys, so hits from several processes never over-admit and rarely deadlock (two batches
each creating a bucket the other locks can: PostgreSQL breaks it and the batch runs
again, ``Coalesced.retry``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, NamedTuple

import asyncpg
import attrs

from waport.domain.ratelimit import RateDecision, RateLimit, gcra
from waport.storekit import from_us, to_us

LOCK_FOUND: Final = (
    "SELECT r.key, r.tat_us FROM unnest($1::text[]) AS k(key) CROSS JOIN LATERAL"
    " (SELECT key, tat_us FROM rate_limits WHERE key = k.key FOR UPDATE) AS r"
)
"""Each key's bucket found, locked in the order of the keys. One index lookup a key,
whatever the planner thinks of the table: ``key = ANY(...)`` was planned as a scan of
the whole table while the table was young (it grows by a bucket for every new
recipient, faster than its statistics follow), and a scan took milliseconds while the
batch held every bucket it had locked. Run alone, it finds the buckets another process
created after ``LOCK`` began (its insert waited for theirs, then did nothing)."""
LOCK: Final = (
    "WITH created AS ("
    " INSERT INTO rate_limits (key, tat_us)"
    " SELECT k, 0 FROM unnest($1::text[]) WITH ORDINALITY AS u(k, i) ORDER BY i"
    " ON CONFLICT (key) DO NOTHING RETURNING key, tat_us),"
    f" found AS ({LOCK_FOUND})"
    " SELECT key, tat_us FROM created UNION ALL SELECT key, tat_us FROM found"
)
"""Each key's bucket, locked: created empty (TAT 0) where there was none. ``found``
reads the table as it was when the statement began, so it cannot see the rows
``created`` adds (this transaction's, locked by their insert). Both go in the order
of the keys as given (``hit_all`` sorts them), so every process locks in one order."""
WRITE: Final = "UPDATE rate_limits SET tat_us = $2 WHERE key = $1"
"""One bucket's new TAT, by its key (``executemany``: every bucket of a batch in one
round trip; a join with the batch's keys was planned as a scan of the whole table)."""


SEEN: Final = (
    "WITH moved AS (UPDATE rate_limits SET tat_us = $3::bigint"
    " WHERE key = $1::text AND tat_us = $2::bigint AND $2::bigint > 0 RETURNING 1),"
    " made AS (INSERT INTO rate_limits (key, tat_us) SELECT $1::text, $3::bigint"
    " WHERE $2::bigint = 0 ON CONFLICT (key) DO NOTHING RETURNING 1)"
    " SELECT 1 / ((SELECT count(*) FROM moved) + (SELECT count(*) FROM made))::int"
)
"""One bucket's new TAT, written only if the bucket holds the TAT this process last
saw of it (0: that there was none); else a division by zero, which fails every write
of its ``executemany`` (asyncpg runs them as one transaction)."""
SEEN_MAX: Final = 65_536
"""The most buckets a process remembers the TAT of (the least recently hit go first)."""
LOCKED_FOR: Final = 1.0
"""Seconds a process decides its hits under locks after a bucket it remembered had
moved (another process hits the same buckets: remembering would only fail again)."""


class Hit(NamedTuple):
    key: str
    rate: RateLimit
    now: datetime
    cost: int


@attrs.define
class Buckets:
    """A process's hits, decided in batches (``Coalesced``, one batch at a time).

    A batch is first decided from the TATs this process last saw (``seen``: what it
    wrote or read last; none: no bucket) and written in one round trip, each bucket
    only if it still holds what was seen (``SEEN``). Only another process's hits
    move a bucket, so with one process, or processes hitting buckets of their own,
    that is the whole batch. If a bucket had moved, nothing is written, and the batch
    is decided again under locks (``LOCK``: four round trips, the buckets locked from
    the first to the commit), as every batch is for ``LOCKED_FOR`` seconds after.
    A batch that moves nothing writes nothing: a denial decided from a TAT seen is
    right whatever happened since, as a bucket's TAT only grows (a purged bucket's
    was behind the clock, which decides the same as none)."""

    seen: dict[str, int] = attrs.Factory(dict)
    seen_max: int = SEEN_MAX
    locked_until: float = 0.0

    async def hit_all(self, c: Any, hits: Sequence[Hit]) -> list[RateDecision]:
        """Decide ``hits`` in order: from the TATs seen, else under locks."""
        keys = sorted({hit.key for hit in hits})
        if time.monotonic() >= self.locked_until:
            assumed = {key: self.seen.get(key, 0) for key in keys}
            tats = dict(assumed)
            decisions, moved = _decide(hits, tats)
            try:
                if moved:
                    await c.executemany(SEEN, [(k, assumed[k], moved[k]) for k in sorted(moved)])
            except asyncpg.DivisionByZeroError:  # a bucket moved since it was seen
                self.locked_until = time.monotonic() + LOCKED_FOR
            else:
                self._saw(moved)
                return decisions
        async with c.transaction():
            tats = await _locked(c, keys)
            decisions, moved = _decide(hits, tats)
            if moved:
                await c.executemany(WRITE, list(moved.items()))
        self._saw({key: tat for key, tat in tats.items() if tat})
        return decisions

    def _saw(self, tats: dict[str, int]) -> None:
        for key, tat in tats.items():
            self.seen.pop(key, None)
            self.seen[key] = tat
        if len(self.seen) > self.seen_max:
            for key in list(itertools.islice(self.seen, len(self.seen) - self.seen_max // 2)):
                del self.seen[key]


def _decide(hits: Sequence[Hit], tats: dict[str, int]) -> tuple[list[RateDecision], dict[str, int]]:
    """Each hit's decision, in order, against ``tats`` (µs; 0: no bucket) as the earlier
    hits leave them (updated in place); and the buckets that moved, with their TATs."""
    moved: dict[str, int] = {}
    decisions = []
    for hit in hits:
        tat = tats[hit.key]
        decision = gcra(from_us(tat) if tat else None, hit.now, hit.rate, cost=hit.cost)
        if decision.allowed:
            tats[hit.key] = moved[hit.key] = to_us(decision.tat)
        decisions.append(decision)
    return decisions, moved


async def _locked(c: Any, keys: list[str]) -> dict[str, int]:
    """Each key's TAT (µs; 0: empty), its bucket locked until the transaction ends."""
    tats: dict[str, int] = {}
    for _ in range(3):
        for statement in (LOCK, LOCK_FOUND):
            tats |= {row["key"]: row["tat_us"] for row in await c.fetch(statement, keys)}
            keys = [key for key in keys if key not in tats]
            if not keys:
                return tats
        # found by neither: a bucket purged (idle) between the two; LOCK creates it now
    raise RuntimeError(f"the rate-limit buckets {keys} could not be locked")
