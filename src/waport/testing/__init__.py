"""The test kit: fakes, strategies and the contract suites every adapter passes.

Install with ``pip install waport[testing]``. Nothing here is imported by waport
at run time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs


@attrs.define
class FakeClock:
    """A clock that moves only when told. Starts at 2026-01-01T00:00:00Z."""

    current: datetime = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float = 0, **delta: float) -> datetime:
        self.current += timedelta(seconds=seconds, **delta)
        return self.current

    def set(self, when: datetime) -> None:
        self.current = when


@attrs.define
class SequentialIds:
    """Predictable ids: ``msg_000001``, ``msg_000002`` ..."""

    counter: int = 0

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.counter:06d}"


__all__ = ["FakeClock", "SequentialIds"]
