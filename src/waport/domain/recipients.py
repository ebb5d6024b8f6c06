"""Recipients: E.164 phone numbers, WhatsApp users by business-scoped user id (a user
who shows a username instead of a number), groups (WhatsApp-Web JIDs, or ids of
Meta's Groups API) and channel JIDs.

``parse_recipient`` turns any accepted spelling into one normal form, so two
spellings of one number are the same ``Recipient`` (duplicate detection and the
24-hour window both key on the normal form).
"""

from __future__ import annotations

import re
from typing import Final, Literal

import attrs

from waport.domain.errors import ErrorCode, WaportError

RecipientKind = Literal["phone", "user", "group", "channel", "erased"]

ERASED_PREFIX: Final = "erased:"
"""How an erased contact's pseudonym begins (``waport.domain.erasure``)."""

_STRIPPED: Final = str.maketrans("", "", " -.()")
_PHONE: Final = re.compile(r"[1-9][0-9]{7,14}")
_GROUP: Final = re.compile(r"[0-9]+(?:-[0-9]+)?@g\.us")
_CHANNEL: Final = re.compile(r"[0-9]+@newsletter")
_USER: Final = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}")
"""A business-scoped user id (BSUID): a country code, a dot, ``ENT.`` for a parent
BSUID, then up to 128 letters and digits (``US.13491208655302741918``)."""
GROUP_PREFIX: Final = "group:"
_GROUP_ID: Final = re.compile(r"[A-Za-z0-9_=-]{1,128}")
"""A Meta Groups API group id (``group:`` and the id as Meta gives it)."""
_USER_JID_SUFFIXES: Final = ("@c.us", "@s.whatsapp.net")

WHITESPACE: Final = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
"""What ``str.strip()`` removes (every character whose ``isspace()`` is true)."""


def _chars(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


def _patterns() -> tuple[str, str]:
    """The accepted spellings as regular expressions (ECMA-262, as JSON Schema reads
    them; the same in Python): of a recipient, and of a person (a phone or a user)."""
    space = f"[{_chars(WHITESPACE)}]*"
    sep = f"[{_chars(' -.()')}]*"
    phone = rf"\+?{sep}[1-9](?:{sep}[0-9]){{7,14}}{sep}(?:@c\.us|@s\.whatsapp\.net)?"
    user = _USER.pattern
    others = rf"group:{_GROUP_ID.pattern}|{_GROUP.pattern}|{_CHANNEL.pattern}"
    return (
        f"^{space}(?:{user}|{others}|{phone}){space}$",
        f"^{space}(?:{user}|{phone}){space}$",
    )


RECIPIENT_PATTERN, PERSON_PATTERN = _patterns()
NOT_BLANK_PATTERN: Final = f"[^{_chars(WHITESPACE)}]"
"""A text that ``strip()`` leaves non-empty (it holds this somewhere)."""
"""Exactly the texts ``parse_recipient`` accepts (and of those, the ones naming one
person): the OpenAPI document states them, and a property test holds the two equal."""


@attrs.frozen
class Recipient:
    """A validated destination. ``str(r)`` is the normal form.

    phone: digits only, no ``+`` (``255712345678``); user: a BSUID
    (``US.13491208655302741918``); group: ``<digits>@g.us`` or ``<digits>-<digits>@g.us``
    (WhatsApp Web), or ``group:<id>`` (Meta's Groups API); channel:
    ``<digits>@newsletter``; erased: the pseudonym of an erased contact
    (``erased:<hex>``, never parsed from a request).
    """

    kind: RecipientKind
    value: str

    def __str__(self) -> str:
        return self.value

    @property
    def person(self) -> bool:
        """One person (a number, or a user known by id): the kind the 24-hour window,
        opt-out and per-recipient pacing are about; not a group, channel or pseudonym."""
        return self.kind in ("phone", "user")

    @property
    def e164(self) -> str:
        """``+`` and the digits, for a phone; the JID otherwise."""
        return f"+{self.value}" if self.kind == "phone" else self.value


def parse_recipient(text: object, *, param: str = "to") -> Recipient:
    """Parse a phone number (any common spelling), a user JID, a group or a channel JID.

    Raises ``WaportError(INVALID_RECIPIENT, param=param)`` for anything else.
    """
    if not isinstance(text, str):
        raise WaportError(ErrorCode.INVALID_RECIPIENT, "the recipient must be a string", param)
    raw = text.strip()
    if _USER.fullmatch(raw):
        return Recipient("user", raw)
    if raw.startswith(GROUP_PREFIX):
        if _GROUP_ID.fullmatch(raw[len(GROUP_PREFIX) :]):
            return Recipient("group", raw)
        raise WaportError(
            ErrorCode.INVALID_RECIPIENT,
            "a Groups API group is group:<id> (letters, digits, _, = and -)",
            param,
        )
    if raw.endswith("@g.us"):
        if _GROUP.fullmatch(raw):
            return Recipient("group", raw)
        raise WaportError(
            ErrorCode.INVALID_RECIPIENT,
            "a group JID is <digits>@g.us or <digits>-<digits>@g.us",
            param,
        )
    if raw.endswith("@newsletter"):
        if _CHANNEL.fullmatch(raw):
            return Recipient("channel", raw)
        raise WaportError(
            ErrorCode.INVALID_RECIPIENT, "a channel JID is <digits>@newsletter", param
        )
    for suffix in _USER_JID_SUFFIXES:
        if raw.endswith(suffix):
            raw = raw[: -len(suffix)]
            break
    if raw.startswith("+"):
        raw = raw[1:]
    digits = raw.translate(_STRIPPED)
    if _PHONE.fullmatch(digits):
        return Recipient("phone", digits)
    raise WaportError(
        ErrorCode.INVALID_RECIPIENT,
        "a phone number is 8-15 digits in E.164 form, first digit 1-9 (a leading +, spaces, dashes, dots and parentheses are ignored)",
        param,
    )


def stored_recipient(text: str) -> Recipient:
    """A recipient as a store wrote it: any ``parse_recipient`` form, or an erased
    contact's pseudonym."""
    if text.startswith(ERASED_PREFIX):
        return Recipient("erased", text)
    return parse_recipient(text)
