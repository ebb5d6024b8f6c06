"""The error catalogue: one enum of stable string codes, each with an HTTP status,
a retryable flag and a one-line meaning.

A code is a contract: never rename or reuse one, add new codes instead. Callers
branch on ``err.code``; the HTTP mapping needs nothing else.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

import attrs


class ErrorCode(enum.StrEnum):
    """Stable error codes. The value equals the member name."""

    VALIDATION_FAILED = "VALIDATION_FAILED"
    INVALID_RECIPIENT = "INVALID_RECIPIENT"
    MODE_REQUIRED = "MODE_REQUIRED"
    MODE_CONFLICT = "MODE_CONFLICT"
    CAPTION_NOT_ALLOWED = "CAPTION_NOT_ALLOWED"
    MEDIA_TOO_LARGE = "MEDIA_TOO_LARGE"
    MEDIA_TYPE_UNSUPPORTED = "MEDIA_TYPE_UNSUPPORTED"
    BASE64_NOT_SUPPORTED = "BASE64_NOT_SUPPORTED"
    FEATURE_NOT_SUPPORTED = "FEATURE_NOT_SUPPORTED"
    INVALID_API_KEY = "INVALID_API_KEY"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    TEMPLATE_NOT_FOUND = "TEMPLATE_NOT_FOUND"
    MESSAGE_NOT_FOUND = "MESSAGE_NOT_FOUND"
    BROADCAST_NOT_FOUND = "BROADCAST_NOT_FOUND"
    MEDIA_NOT_FOUND = "MEDIA_NOT_FOUND"
    MEDIA_FETCH_FAILED = "MEDIA_FETCH_FAILED"
    RANGE_NOT_SATISFIABLE = "RANGE_NOT_SATISFIABLE"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    IDEMPOTENCY_IN_PROGRESS = "IDEMPOTENCY_IN_PROGRESS"
    LAST_ADMIN_KEY = "LAST_ADMIN_KEY"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    URL_NOT_ALLOWED = "URL_NOT_ALLOWED"
    WINDOW_CLOSED = "WINDOW_CLOSED"
    TEMPLATE_NOT_APPROVED = "TEMPLATE_NOT_APPROVED"
    TEMPLATE_PARAM_COUNT_MISMATCH = "TEMPLATE_PARAM_COUNT_MISMATCH"
    MISSING_TEMPLATE_VARIABLES = "MISSING_TEMPLATE_VARIABLES"
    SENDER_REQUIRED = "SENDER_REQUIRED"
    SENDER_NOT_FOUND = "SENDER_NOT_FOUND"
    DUPLICATE_RECIPIENT = "DUPLICATE_RECIPIENT"
    TOO_MANY_RECIPIENTS = "TOO_MANY_RECIPIENTS"
    INVALID_MESSAGE = "INVALID_MESSAGE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    BILLING_SUSPENDED = "BILLING_SUSPENDED"
    RECIPIENT_NOT_ON_WHATSAPP = "RECIPIENT_NOT_ON_WHATSAPP"
    RECIPIENT_OPTED_OUT = "RECIPIENT_OPTED_OUT"
    CONTACT_ERASED = "CONTACT_ERASED"
    WORKSPACE_EXISTS = "WORKSPACE_EXISTS"
    TEMPLATE_EXISTS = "TEMPLATE_EXISTS"
    SENDER_IN_USE = "SENDER_IN_USE"
    EXPIRED = "EXPIRED"
    INVALID_CURSOR = "INVALID_CURSOR"
    NOT_PREPAID = "NOT_PREPAID"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    RATE_LIMITED = "RATE_LIMITED"
    PAIR_RATE_LIMITED = "PAIR_RATE_LIMITED"
    MESSAGING_LIMIT_REACHED = "MESSAGING_LIMIT_REACHED"
    PROVIDER_REJECTED = "PROVIDER_REJECTED"
    PROVIDER_AUTH_FAILED = "PROVIDER_AUTH_FAILED"
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"
    OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
    INTERNAL = "INTERNAL"

    @property
    def http_status(self) -> int:
        return CATALOGUE[self].http_status

    @property
    def retryable(self) -> bool:
        return CATALOGUE[self].retryable

    @property
    def summary(self) -> str:
        return CATALOGUE[self].summary


@attrs.frozen
class ErrorInfo:
    """One row of the catalogue."""

    http_status: int
    retryable: bool
    summary: str


_E = ErrorCode
CATALOGUE: Final[Mapping[ErrorCode, ErrorInfo]] = {
    _E.VALIDATION_FAILED: ErrorInfo(
        400, False, "The request is malformed or a field breaks a rule; `param` names the field."
    ),
    _E.INVALID_RECIPIENT: ErrorInfo(
        400, False, "The recipient is not an E.164 phone number, a group JID or a channel JID."
    ),
    _E.MODE_REQUIRED: ErrorInfo(
        400,
        False,
        "A message needs exactly one of text, template, media, interactive, location, contacts or reaction; none was given.",
    ),
    _E.MODE_CONFLICT: ErrorInfo(
        400, False, "A message carries more than one mode; `param` names them."
    ),
    _E.CAPTION_NOT_ALLOWED: ErrorInfo(
        400,
        False,
        "A caption was given for audio or a sticker; only image, video and document take one.",
    ),
    _E.MEDIA_TOO_LARGE: ErrorInfo(
        400, False, "The media is larger than WhatsApp allows for its kind."
    ),
    _E.MEDIA_TYPE_UNSUPPORTED: ErrorInfo(
        400, False, "The media's MIME type is not accepted for its kind."
    ),
    _E.BASE64_NOT_SUPPORTED: ErrorInfo(
        400, False, "This provider does not accept inline base64 media; send a URL."
    ),
    _E.FEATURE_NOT_SUPPORTED: ErrorInfo(
        400, False, "The provider cannot do this (a mode, groups, channels or templates)."
    ),
    _E.INVALID_API_KEY: ErrorInfo(
        401, False, "The API key is missing, malformed, unknown or revoked."
    ),
    _E.INVALID_SIGNATURE: ErrorInfo(
        401, False, "A webhook's signature is missing or does not match its body."
    ),
    _E.INSUFFICIENT_SCOPE: ErrorInfo(
        403, False, "The API key lacks the scope this endpoint needs."
    ),
    _E.FORBIDDEN: ErrorInfo(403, False, "The caller may not act on this resource or sender."),
    _E.NOT_FOUND: ErrorInfo(404, False, "No such endpoint."),
    _E.TEMPLATE_NOT_FOUND: ErrorInfo(
        404, False, "The sender has no template with this name and language."
    ),
    _E.MESSAGE_NOT_FOUND: ErrorInfo(
        404, False, "No message with this id in the caller's workspace."
    ),
    _E.BROADCAST_NOT_FOUND: ErrorInfo(
        404, False, "No broadcast with this id in the caller's workspace."
    ),
    _E.MEDIA_NOT_FOUND: ErrorInfo(404, False, "No media with this id in the caller's workspace."),
    _E.MEDIA_FETCH_FAILED: ErrorInfo(
        502, False, "A contact's media could not be fetched from the provider as it named it."
    ),
    _E.RANGE_NOT_SATISFIABLE: ErrorInfo(
        416, False, "The Range header asks for bytes outside the media."
    ),
    _E.METHOD_NOT_ALLOWED: ErrorInfo(405, False, "The endpoint does not accept this HTTP method."),
    _E.LAST_ADMIN_KEY: ErrorInfo(
        409,
        False,
        "The workspace's last admin key cannot be revoked; create another admin key first.",
    ),
    _E.IDEMPOTENCY_IN_PROGRESS: ErrorInfo(
        409, True, "A request with this Idempotency-Key is still running; retry after Retry-After."
    ),
    _E.REQUEST_TIMEOUT: ErrorInfo(
        408,
        True,
        "The request's body paused too long, or a webhook's body did not arrive in time.",
    ),
    _E.PAYLOAD_TOO_LARGE: ErrorInfo(
        413, False, "The request body is larger than this endpoint accepts."
    ),
    _E.URL_NOT_ALLOWED: ErrorInfo(
        400,
        False,
        "A webhook or media URL is malformed, carries credentials, or resolves to a loopback, "
        "private, link-local or reserved address (allowed only by `allow_private_urls`).",
    ),
    _E.UNSUPPORTED_MEDIA_TYPE: ErrorInfo(
        415,
        False,
        "The request body must be application/json (or multipart/form-data where documented).",
    ),
    _E.WINDOW_CLOSED: ErrorInfo(
        422, False, "The 24-hour customer-service window is closed; send an approved template."
    ),
    _E.TEMPLATE_NOT_APPROVED: ErrorInfo(
        422,
        False,
        "The template exists but is not APPROVED (pending, rejected, paused or disabled).",
    ),
    _E.TEMPLATE_PARAM_COUNT_MISMATCH: ErrorInfo(
        422,
        False,
        "Template parameters have the wrong count or unknown keys; the error lists them.",
    ),
    _E.MISSING_TEMPLATE_VARIABLES: ErrorInfo(
        422, False, "Template parameters are missing; the error lists the missing keys."
    ),
    _E.SENDER_REQUIRED: ErrorInfo(
        422,
        False,
        "No longer raised: a send without sender_id goes from the workspace's default sender.",
    ),
    _E.SENDER_NOT_FOUND: ErrorInfo(
        422, False, "The sender is not an active sender of the caller's workspace."
    ),
    _E.DUPLICATE_RECIPIENT: ErrorInfo(
        422, False, "A broadcast names the same recipient twice (after normalisation)."
    ),
    _E.TOO_MANY_RECIPIENTS: ErrorInfo(422, False, "A broadcast has more than 256 recipients."),
    _E.INVALID_MESSAGE: ErrorInfo(
        422, False, "The message cannot take this action (e.g. marking an outbound message read)."
    ),
    _E.IDEMPOTENCY_KEY_REUSED: ErrorInfo(
        422, False, "This Idempotency-Key was used with a different request body."
    ),
    _E.BILLING_SUSPENDED: ErrorInfo(422, False, "The workspace's billing is suspended."),
    _E.RECIPIENT_NOT_ON_WHATSAPP: ErrorInfo(
        422, False, "The recipient cannot receive WhatsApp messages."
    ),
    _E.RECIPIENT_OPTED_OUT: ErrorInfo(
        422, False, "The contact opted out (STOP) of this category of template messages."
    ),
    _E.WORKSPACE_EXISTS: ErrorInfo(409, False, "A workspace with this id exists already."),
    _E.TEMPLATE_EXISTS: ErrorInfo(
        409, False, "The sender has a template of this name in this language already."
    ),
    _E.SENDER_IN_USE: ErrorInfo(
        409, False, "This provider number is a sender of another workspace."
    ),
    _E.CONTACT_ERASED: ErrorInfo(
        410, False, "The contact was erased (DELETE /v1/contacts/{phone}) before it was sent."
    ),
    _E.EXPIRED: ErrorInfo(422, False, "The message was not sent before its expires_at deadline."),
    _E.INVALID_CURSOR: ErrorInfo(
        422, False, "The cursor is not one this API gave: pass an earlier page's next_cursor as is."
    ),
    _E.NOT_PREPAID: ErrorInfo(
        409,
        False,
        "The workspace is not prepaid: set its billing to prepaid before a balance change.",
    ),
    _E.INSUFFICIENT_BALANCE: ErrorInfo(
        402, False, "The workspace's balance cannot cover this send."
    ),
    _E.RATE_LIMITED: ErrorInfo(429, True, "Too many requests; retry after Retry-After."),
    _E.PAIR_RATE_LIMITED: ErrorInfo(
        429, True, "Too many messages to one recipient in a short time; retry later."
    ),
    _E.MESSAGING_LIMIT_REACHED: ErrorInfo(
        429, False, "The workspace's daily messaging-limit tier would be crossed."
    ),
    _E.PROVIDER_REJECTED: ErrorInfo(
        502,
        False,
        "The provider refused the message for a reason waport has no code for; see the provider code.",
    ),
    _E.PROVIDER_AUTH_FAILED: ErrorInfo(
        502, False, "The provider refused waport's own credentials (token, API key or permissions)."
    ),
    _E.PROVIDER_UNAVAILABLE: ErrorInfo(
        503, True, "The provider did not answer, timed out or failed temporarily."
    ),
    _E.OUTCOME_UNKNOWN: ErrorInfo(
        502, False, "The process died mid-attempt and the provider cannot tell whether it sent."
    ),
    _E.STORE_UNAVAILABLE: ErrorInfo(
        503,
        True,
        "The database cannot be reached just now (restarting, or the link is down); nothing"
        " was accepted, retry shortly.",
    ),
    _E.INTERNAL: ErrorInfo(
        500, True, "An unexpected failure inside waport; report the correlation id."
    ),
}


@attrs.frozen(auto_exc=True)
class WaportError(Exception):
    """The one exception waport raises for a rule or a remote failure.

    ``param`` is a dotted or indexed path into the request (``template.params.2``,
    ``recipients[3].to``); it never holds user data. Provider fields keep the raw
    code and message for logs and status history; they are not shown to end users.
    """

    code: ErrorCode
    message: str
    param: str | None = None
    details: tuple[str, ...] = ()
    provider: str | None = None
    provider_code: str | None = None
    provider_message: str | None = None
    retry_after: float | None = None

    def __str__(self) -> str:
        where = f" [{self.param}]" if self.param else ""
        return f"{self.code}: {self.message}{where}"

    @property
    def http_status(self) -> int:
        return self.code.http_status

    @property
    def retryable(self) -> bool:
        return self.code.retryable


class ConfigError(Exception):
    """A start-up problem (unknown plugin, bad configuration); not an API error."""
