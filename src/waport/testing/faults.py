"""Network faults the loopback fake providers can inject (beyond the provider's own
documented errors, which are :class:`~waport.testing.contracts.RemoteFailure`)."""

from __future__ import annotations

import enum

from aiohttp import web


class Fault(enum.Enum):
    """One fault, consumed by the next send request the fake receives."""

    RESET = "reset"
    """The connection is closed before any answer: the send was not processed."""
    SLOW = "slow"
    """The send is processed and answered after ``slow_delay`` (within the timeout)."""
    ACCEPT_THEN_HANG = "accept_then_hang"
    """The send is processed, then the answer never comes in time: the caller cannot
    know whether it went (the case that decides whether a retry can duplicate)."""
    RETRY_AFTER = "retry_after"
    """HTTP 429 with ``Retry-After: 120``: not processed."""


async def reset_connection(request: web.Request) -> web.StreamResponse:
    """Close the client's connection without an answer (for :attr:`Fault.RESET`)."""
    if request.transport is not None:
        request.transport.abort()
    raise ConnectionResetError("fault injected: connection reset")
