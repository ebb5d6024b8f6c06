"""Logs that are safe to ship: phone numbers masked, secrets removed.

:class:`RedactingFormatter` rewrites every formatted record (message, arguments and
traceback alike), so a secret or a number reaches no handler it is installed on:

- phone numbers (8-15 digits, with or without ``+``, spaces, dashes, dots or
  parentheses between them) keep their first three and last two digits:
  ``+255*******78``. Ids made of digits (a Meta phone-number id) look the same and are
  masked too: logs stay useful for correlation, not for reading numbers;
- ``wpk_`` API keys, ``whsec_`` webhook secrets, ``Bearer`` tokens, ``hub.verify_token``
  and ``access_token`` query values, and every configured secret value are replaced by
  ``[redacted]``; so are a URL's credentials and its query string (``?token=...``);
- control characters in a message (a CR/LF a client put in a path or a header) are
  written escaped (``\\r\\n``), so no client can forge a log line.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Any, Final

PHONE: Final = re.compile(
    # an ISO date or time is kept as it is (first alternative); anything else that
    # reads as 8-15 digits is a number to mask
    r"(?P<date>\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?)"
    r"|(?P<phone>(?<![\w])\+?\d(?:[\s().-]?\d){7,14}(?![\w]))"
)
TOKENS: Final = re.compile(
    r"(wpk_[A-Za-z0-9_]+|whsec_[A-Za-z0-9+/=]+|(?<=Bearer )[^\s'\"]+"
    r"|(?<=hub\.verify_token=)[^&\s'\"]+|(?<=access_token=)[^&\s'\"]+)"
)
URL_SECRETS: Final = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/\s@?#]+@)?(?P<rest>[^\s?#'\"]*)"
    r"(?P<query>\?[^\s#'\"]*)?"
)
CONTROL: Final = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)} | {
    0x0A: "\\n",
    0x0D: "\\r",
    0x09: "\\t",
}
REDACTED: Final = "[redacted]"
_MIN_SECRET: Final = 6  # shorter values would mask ordinary words


def mask_phone(match: re.Match[str]) -> str:
    text = match.group(0)
    if match.group("date"):
        return text
    digits = [c for c in text if c.isdigit()]
    plus = "+" if text.startswith("+") else ""
    return plus + "".join(digits[:3]) + "*" * (len(digits) - 5) + "".join(digits[-2:])


def _url(match: re.Match[str]) -> str:
    userinfo = f"{REDACTED}@" if match.group("userinfo") else ""
    query = f"?{REDACTED}" if match.group("query") else ""
    return f"{match.group('scheme')}{userinfo}{match.group('rest')}{query}"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if len(secret) >= _MIN_SECRET:
            text = text.replace(secret, REDACTED)
    text = TOKENS.sub(REDACTED, text)
    text = URL_SECRETS.sub(_url, text)
    return PHONE.sub(mask_phone, text)


class RedactingFormatter(logging.Formatter):
    """Redacts what a record says (message, traceback, stack), not the line's own fields
    such as its timestamp."""

    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        # longest first, so a secret containing another is removed whole
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = redact(record.message, self.secrets).translate(CONTROL)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei), self.secrets)

    def formatStack(self, stack_info: str) -> str:
        return redact(super().formatStack(stack_info), self.secrets)


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """stderr logging at ``level``, through a :class:`RedactingFormatter`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
