"""Graph API error codes to waport's catalogue: one table, tested row by row.

Meta documents codes, not HTTP statuses or retry rules (build on ``error.code`` and
``error_data.details``); the retry behaviour is the catalogue code's. The raw code,
subcode, message, details and fbtrace id are kept on the ``WaportError``.
Anything not in the table is ``PROVIDER_REJECTED``; HTTP 5xx, timeouts and
connection failures are ``PROVIDER_UNAVAILABLE`` (retryable).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.status import ErrorDetail

E = ErrorCode

# (Meta code, waport code). Sources: Meta's error-code page (WA/support/error-codes) as
# collected in ../shared/reference/meta-cloud-api.md §6.
DOCUMENTED: Final[tuple[tuple[int, ErrorCode], ...]] = (
    # authentication and permissions of waport's own credentials
    (0, E.PROVIDER_AUTH_FAILED),
    (3, E.PROVIDER_AUTH_FAILED),
    (10, E.PROVIDER_AUTH_FAILED),
    (190, E.PROVIDER_AUTH_FAILED),
    (200, E.PROVIDER_AUTH_FAILED),
    (299, E.PROVIDER_AUTH_FAILED),
    # transient failures: retry with backoff
    (1, E.PROVIDER_UNAVAILABLE),
    (2, E.PROVIDER_UNAVAILABLE),
    (131000, E.PROVIDER_UNAVAILABLE),
    (131016, E.PROVIDER_UNAVAILABLE),
    (131057, E.PROVIDER_UNAVAILABLE),
    (133004, E.PROVIDER_UNAVAILABLE),
    # throughput and rate limits
    (4, E.RATE_LIMITED),
    (80007, E.RATE_LIMITED),
    (130429, E.RATE_LIMITED),
    (132069, E.RATE_LIMITED),
    (133016, E.RATE_LIMITED),
    (131056, E.PAIR_RATE_LIMITED),
    # quality and tier caps
    (131048, E.MESSAGING_LIMIT_REACHED),
    (131064, E.MESSAGING_LIMIT_REACHED),
    # the customer-service window
    (131047, E.WINDOW_CLOSED),
    # recipients
    (131026, E.RECIPIENT_NOT_ON_WHATSAPP),
    # billing
    (131042, E.BILLING_SUSPENDED),
    # templates
    (132000, E.TEMPLATE_PARAM_COUNT_MISMATCH),
    (132012, E.TEMPLATE_PARAM_COUNT_MISMATCH),
    (132001, E.TEMPLATE_NOT_FOUND),
    (132015, E.TEMPLATE_NOT_APPROVED),
    (132016, E.TEMPLATE_NOT_APPROVED),
    # the request itself
    (33, E.VALIDATION_FAILED),
    (100, E.VALIDATION_FAILED),
    (131008, E.VALIDATION_FAILED),
    (131009, E.VALIDATION_FAILED),
    (131021, E.VALIDATION_FAILED),
    (132005, E.VALIDATION_FAILED),
    (132007, E.VALIDATION_FAILED),
    (135000, E.VALIDATION_FAILED),
    (131051, E.FEATURE_NOT_SUPPORTED),
    (131053, E.MEDIA_TYPE_UNSUPPORTED),
    # policy refusals (integrity, opt-outs, experiments, account state)
    (368, E.PROVIDER_REJECTED),
    (130403, E.PROVIDER_REJECTED),
    (130472, E.PROVIDER_REJECTED),
    (130497, E.PROVIDER_REJECTED),
    (131005, E.PROVIDER_REJECTED),
    (131030, E.PROVIDER_REJECTED),
    (131031, E.PROVIDER_REJECTED),
    (131037, E.PROVIDER_REJECTED),
    (131045, E.PROVIDER_REJECTED),
    (131049, E.PROVIDER_REJECTED),
    (131050, E.PROVIDER_REJECTED),
    (131063, E.PROVIDER_REJECTED),
    (133010, E.PROVIDER_REJECTED),
    (134011, E.PROVIDER_REJECTED),
)
_TABLE: Final[Mapping[int, ErrorCode]] = dict(DOCUMENTED)
PERMISSION_RANGE: Final = range(200, 300)


def code_for(meta_code: int) -> ErrorCode:
    if meta_code in _TABLE:
        return _TABLE[meta_code]
    if meta_code in PERMISSION_RANGE:
        return E.PROVIDER_AUTH_FAILED
    return E.PROVIDER_REJECTED


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def from_graph_error(error: Any, *, http_status: int | None = None) -> WaportError:
    """A Graph ``error`` object (from a response or a webhook) as a WaportError."""
    if not isinstance(error, Mapping):
        return WaportError(
            E.PROVIDER_UNAVAILABLE if (http_status or 0) >= 500 else E.PROVIDER_REJECTED,  # noqa: PLR2004
            "the provider answered with an error it did not describe",
            provider="meta",
            provider_code=str(http_status) if http_status else None,
        )
    meta_code = _int(error.get("code"))
    subcode = _int(error.get("error_subcode"))
    message = str(error.get("message") or error.get("title") or "")[:500]
    data = error.get("error_data")
    details = str(data.get("details", ""))[:500] if isinstance(data, Mapping) else ""
    code = code_for(meta_code) if meta_code is not None else E.PROVIDER_REJECTED
    if http_status is not None and http_status >= 500 and code == E.PROVIDER_REJECTED:  # noqa: PLR2004
        code = E.PROVIDER_UNAVAILABLE
    raw = f"{meta_code}" + (f"/{subcode}" if subcode is not None else "")
    trace = error.get("fbtrace_id")
    provider_message = (
        message + (f" ({details})" if details else "") + (f" [fbtrace {trace}]" if trace else "")
    )
    return WaportError(
        code,
        f"Meta refused the request ({meta_code}): {message or details or code.summary}"[:600],
        provider="meta",
        provider_code=raw if meta_code is not None else None,
        provider_message=provider_message[:1000] or None,
    )


def detail_from_graph_error(error: Mapping[str, Any]) -> ErrorDetail:
    """A failed status webhook's error, as stored with the message."""
    err = from_graph_error(error)
    return ErrorDetail(
        code=err.code,
        message=err.message,
        provider=err.provider,
        provider_code=err.provider_code,
        provider_message=err.provider_message,
    )
