"""The system clock and random ids: the one place in waport that reads real time."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# two characters per 10 bits: a ULID is 13 table lookups instead of 26 shifts
_PAIRS = tuple(a + b for a in _CROCKFORD for b in _CROCKFORD)
_SHIFTS = tuple(range(120, -1, -10))


class SystemClock:
    """Wall-clock time, timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    """Sortable unique ids: ``<prefix>_`` + a ULID (48-bit milliseconds + 80 random bits)."""

    def new_id(self, prefix: str) -> str:
        value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
        return prefix + "_" + "".join([_PAIRS[value >> shift & 1023] for shift in _SHIFTS])
