"""Failures a fake remote can be told to produce (``RemoteFailure``), in a module of
their own: the fakes run as plain servers without the test extras (pytest,
hypothesis), and the provider contract suite maps each to the error code it expects."""

from __future__ import annotations

import enum


class RemoteFailure(enum.Enum):
    """Failures a harness can make its remote produce, and the code each must map to."""

    AUTH = "auth"
    RATE_LIMIT = "rate_limit"
    PAIR_RATE_LIMIT = "pair_rate_limit"
    NOT_ON_WHATSAPP = "not_on_whatsapp"
    WINDOW_CLOSED = "window_closed"
    TEMPLATE_NOT_APPROVED = "template_not_approved"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    MALFORMED = "malformed"
