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
    """Sortable unique ids: ``<prefix>_`` + a ULID (48-bit milliseconds + 80 random bits).

    The random bits come from ``os.urandom`` 4 KiB at a time (one system call per 409
    ids instead of one per id); a forked child draws its own."""

    def __init__(self) -> None:
        self._random = b""
        self._at = 0
        self._pid = os.getpid()

    def _bits(self) -> int:
        if self._at + 10 > len(self._random) or os.getpid() != self._pid:
            self._random, self._at, self._pid = os.urandom(4090), 0, os.getpid()
        start = self._at
        self._at = start + 10
        return int.from_bytes(self._random[start : start + 10], "big")

    def new_id(self, prefix: str) -> str:
        value = (time.time_ns() // 1_000_000) << 80 | self._bits()
        return prefix + "_" + "".join([_PAIRS[value >> shift & 1023] for shift in _SHIFTS])
