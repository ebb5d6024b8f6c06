"""Rate-limit hits on PostgreSQL, a batch at a time: the buckets a batch of hits names
are locked in one statement, the domain's ``gcra`` decides each hit in order against
the bucket as the earlier hits left it, and the buckets that moved are written in one
more. So a batch costs the same few round trips however many hits it holds (one hit
was one upsert before), and the rule is the domain's alone (the upsert restated it in
SQL).

The hits ride in the group commit's transactions (``HITS``), after the batch's other
writes (``Contended``): a send's hits cost no transaction of their own, and a batch
holds the buckets only from these statements to its commit. Every process locks the
buckets it hits in the order of their keys, so hits from several processes never
over-admit and rarely deadlock (two batches each creating a bucket the other locks
can: PostgreSQL breaks it and the hits run again, ``_Part._write_together``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, NamedTuple

from waport.domain.ratelimit import RateDecision, RateLimit, gcra
from waport.storekit import from_us, to_us
from waport_postgres.group import Contended

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


class Hit(NamedTuple):
    key: str
    rate: RateLimit
    now: datetime
    cost: int


async def hit_all(c: Any, hits: Sequence[Hit]) -> list[RateDecision]:
    """Decide ``hits`` in order, in the open transaction of ``c``."""
    tats = await _locked(c, sorted({hit.key for hit in hits}))
    moved: dict[str, int] = {}
    decisions = []
    for hit in hits:
        tat = tats[hit.key]
        decision = gcra(from_us(tat) if tat else None, hit.now, hit.rate, cost=hit.cost)
        if decision.allowed:
            tats[hit.key] = moved[hit.key] = to_us(decision.tat)
        decisions.append(decision)
    if moved:
        await c.executemany(WRITE, list(moved.items()))
    return decisions


HITS: Final = Contended(hit_all)
"""The hits' work in a group-committed batch (``GroupCommit.together``)."""


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
