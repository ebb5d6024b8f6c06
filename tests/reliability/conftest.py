"""Bounded in CI; ``WAPORT_SOAK=1`` (``nox -s soak``) multiplies every campaign."""

from __future__ import annotations

import os

SOAK = os.environ.get("WAPORT_SOAK") == "1"


def scaled(ci: int, soak: int) -> int:
    """How many examples, kills or faults a campaign runs: ``ci`` normally, ``soak`` in soak mode."""
    return soak if SOAK else ci
