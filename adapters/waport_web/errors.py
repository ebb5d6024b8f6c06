"""WAHA answers to waport's catalogue, in one table.

WAHA reports HTTP statuses with NestJS-style bodies; delivery failures arrive later
as ``message.ack`` with ``ack = -1``. The raw status and message are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.schedule import parse_retry_after

E = ErrorCode

DOCUMENTED: Final[tuple[tuple[str, ErrorCode], ...]] = (
    ("401", E.PROVIDER_AUTH_FAILED),
    ("403", E.PROVIDER_AUTH_FAILED),
    ("400", E.VALIDATION_FAILED),
    ("404", E.PROVIDER_REJECTED),
    ("422 method not implemented by the engine", E.FEATURE_NOT_SUPPORTED),
    ("422 session status is not WORKING", E.PROVIDER_UNAVAILABLE),
    ("422 other", E.PROVIDER_REJECTED),
    ("429", E.RATE_LIMITED),
    ("5xx", E.PROVIDER_UNAVAILABLE),
    ("ack -1 (ERROR)", E.PROVIDER_REJECTED),
)


def _message(body: Any) -> str:
    if isinstance(body, Mapping):
        for key in ("message", "error"):
            value = body.get(key)
            if isinstance(value, str):
                return value
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                return "; ".join(value)  # a validation answer's field-level detail
            if isinstance(value, Mapping) and isinstance(value.get("message"), str):
                return str(value["message"])
        exception = body.get("exception")
        if isinstance(exception, Mapping) and isinstance(exception.get("message"), str):
            return str(exception["message"])
    return ""


def from_response(status: int, body: Any, retry_after: str | None = None) -> WaportError:
    """A WAHA error answer as a WaportError (the raw status and message kept, and a
    ``Retry-After`` in seconds honoured)."""
    message = _message(body)[:500]
    lowered = message.lower()
    if status in (401, 403):
        code = E.PROVIDER_AUTH_FAILED
    elif status == 422:  # noqa: PLR2004
        if "not implemented" in lowered:
            code = E.FEATURE_NOT_SUPPORTED
        elif "session status" in lowered or (
            isinstance(body, Mapping) and "expected" in body and "status" in body
        ):
            code = E.PROVIDER_UNAVAILABLE
        else:
            code = E.PROVIDER_REJECTED
    elif status == 429:  # noqa: PLR2004
        code = E.RATE_LIMITED
    elif status == 400:  # noqa: PLR2004
        code = E.VALIDATION_FAILED
    elif status >= 500:  # noqa: PLR2004
        code = E.PROVIDER_UNAVAILABLE
    else:
        code = E.PROVIDER_REJECTED
    return WaportError(
        code,
        f"WhatsApp-Web (WAHA) answered HTTP {status}: {message or code.summary}"[:600],
        provider="web",
        provider_code=str(status),
        provider_message=message or None,
        retry_after=parse_retry_after(retry_after),
    )
