"""attrs validator factories that raise ``WaportError`` with the field as ``param``.

The ``param`` a validator reports is relative to the object being built; the
request converter prefixes the path of that object (``interactive.sections[0]``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sized
from datetime import datetime
from typing import Any, Final

import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.limits import TEMPLATE, URL_MAX
from waport.domain.recipients import NOT_BLANK_PATTERN
from waport.domain.urls import URL_PATTERN, check_http_url

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]

_SCHEMAS: Final[dict[Validator, dict[str, Any]]] = {}


def json_schema(validator: Validator) -> dict[str, Any]:
    """What ``validator`` accepts, as JSON Schema (empty for one that states nothing):
    the OpenAPI document describes request bodies from the validators themselves."""
    return dict(_SCHEMAS.get(validator, {}))


def states(schema: dict[str, Any], validator: Validator) -> Validator:
    """Record what ``validator`` accepts as JSON Schema (``json_schema``); returns it."""
    _SCHEMAS[validator] = schema
    return validator


def join(prefix: str | None, name: str | None) -> str | None:
    """Join two param path parts (``media`` + ``type`` -> ``media.type``)."""
    if not prefix:
        return name
    if not name:
        return prefix
    return f"{prefix}{name}" if name.startswith("[") else f"{prefix}.{name}"


def chars(
    maximum: int,
    *,
    minimum: int = 0,
    blank: bool = True,
    code: ErrorCode = ErrorCode.VALIDATION_FAILED,
) -> Validator:
    """A string of ``minimum``..``maximum`` characters; ``blank=False`` refuses whitespace-only."""

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, str):
            raise WaportError(ErrorCode.VALIDATION_FAILED, "must be a string", attribute.name)
        if len(value) > maximum:
            raise WaportError(code, f"may be at most {maximum} characters", attribute.name)
        if len(value) < minimum:
            raise WaportError(
                code,
                "must not be empty" if minimum == 1 else f"needs at least {minimum} characters",
                attribute.name,
            )
        if not blank and value and not value.strip():
            raise WaportError(code, "must not be only whitespace", attribute.name)

    schema: dict[str, Any] = {"type": "string", "maxLength": maximum}
    if minimum:
        schema["minLength"] = minimum
    if not blank:
        schema["pattern"] = NOT_BLANK_PATTERN if minimum else f"^$|{NOT_BLANK_PATTERN}"
    return states(schema, check)


def required_chars(maximum: int, *, blank: bool = False) -> Validator:
    """A non-empty string of at most ``maximum`` characters."""
    return chars(maximum, minimum=1, blank=blank)


def items(minimum: int, maximum: int) -> Validator:
    """A collection with ``minimum``..``maximum`` entries."""

    def check(_: Any, attribute: attrs.Attribute[Any], value: Sized) -> None:
        if not minimum <= len(value) <= maximum:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                f"needs {minimum} to {maximum} entries, got {len(value)}",
                attribute.name,
            )

    return states({"type": "array", "minItems": minimum, "maxItems": maximum}, check)


def number_between(low: float, high: float) -> Validator:
    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WaportError(ErrorCode.VALIDATION_FAILED, "must be a number", attribute.name)
        if not math.isfinite(value) or not low <= value <= high:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED, f"must be between {low:g} and {high:g}", attribute.name
            )

    return states({"type": "number", "minimum": low, "maximum": high}, check)


def json_int(value: object) -> int | None:
    """``value`` as JSON Schema counts integers (``5`` and ``5.0``, never ``true``), or
    None when it is not one."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def int_between(low: int, high: int) -> Validator:
    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                f"must be an integer from {low} to {high}",
                attribute.name,
            )

    return states({"type": "integer", "minimum": low, "maximum": high}, check)


def is_bool(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise WaportError(ErrorCode.VALIDATION_FAILED, "must be true or false", attribute.name)


def http_url(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        check_http_url(value, attribute.name)


states({"type": "boolean"}, is_bool)
states({"type": "string", "maxLength": URL_MAX, "pattern": URL_PATTERN}, http_url)


def aware(_: Any, attribute: attrs.Attribute[Any], value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise WaportError(ErrorCode.VALIDATION_FAILED, "must carry a time zone", attribute.name)


_EMOJI_RANGES: Final = (
    (0x1F000, 0x1FAFF),
    (0x2600, 0x27BF),
    (0x2B00, 0x2BFF),
    (0x2300, 0x23FF),
    (0x2190, 0x21FF),
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3299),
    (0x00A9, 0x00A9),
    (0x00AE, 0x00AE),
    (0x203C, 0x203C),
    (0x2049, 0x2049),
    (0x2122, 0x2122),
    (0x2139, 0x2139),
    (0x24C2, 0x24C2),
    (0x25AA, 0x25FE),
    (0x2934, 0x2935),
)
_JOINERS: Final = {0x200D, 0xFE0F, 0xFE0E, 0x20E3}
_MODIFIERS: Final = (0x1F3FB, 0x1F3FF)
_TAGS: Final = (0xE0020, 0xE007F)
_REGIONAL: Final = (0x1F1E6, 0x1F1FF)
_KEYCAP_BASES: Final = frozenset("0123456789#*")
_ZWJ: Final = 0x200D
_KEYCAP: Final = 0x20E3
_FLAG_LENGTH: Final = 2
_EMOJI_MAX_CHARS: Final = 32


def _is_pictograph(cp: int) -> bool:
    return any(low <= cp <= high for low, high in _EMOJI_RANGES)


def is_single_emoji(text: str) -> bool:
    """True when ``text`` is one emoji: a pictograph with its modifiers, a ZWJ
    sequence, a flag (two regional indicators) or a keycap."""
    if not text or len(text) > _EMOJI_MAX_CHARS:
        return False
    cps = [ord(c) for c in text]
    if all(_REGIONAL[0] <= cp <= _REGIONAL[1] for cp in cps):
        return len(cps) == _FLAG_LENGTH
    if text[0] in _KEYCAP_BASES:
        return len(cps) in (2, 3) and cps[-1] == _KEYCAP and all(cp in _JOINERS for cp in cps[1:])
    bases = 0
    expect_base = True
    for cp in cps:
        if cp == _ZWJ:
            if expect_base:
                return False
            expect_base = True
            continue
        if cp in _JOINERS or _MODIFIERS[0] <= cp <= _MODIFIERS[1] or _TAGS[0] <= cp <= _TAGS[1]:
            if expect_base:
                return False
            continue
        if not _is_pictograph(cp) or _REGIONAL[0] <= cp <= _REGIONAL[1]:
            return False
        if not expect_base:
            return False
        bases += 1
        expect_base = False
    return bases >= 1 and not expect_base


def emoji_or_empty(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or (value and not is_single_emoji(value)):
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            "must be one emoji, or empty to remove the reaction",
            attribute.name,
        )


states({"type": "string", "description": "one emoji, or empty"}, emoji_or_empty)
states({"type": "string", "format": "date-time"}, aware)


_LANGUAGE: Final = re.compile(r"[a-z]{2,3}(?:_[A-Za-z0-9]{2,8})*")
LANGUAGE_PATTERN: Final = f"^{_LANGUAGE.pattern}$"
"""A language code as the OpenAPI document states it (with ``TEMPLATE.language``)."""


def language_code(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A language (and optional region or script subtags, ``_``-separated) of at most
    ``TEMPLATE.language`` characters: ``en``, ``en_US``, ``sr_Latn_RS``."""
    if (
        not isinstance(value, str)
        or len(value) > TEMPLATE.language
        or not _LANGUAGE.fullmatch(value)
    ):
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            f"must be a language code such as en or en_US (at most {TEMPLATE.language} characters)",
            attribute.name,
        )


states(
    {
        "type": "string",
        "pattern": LANGUAGE_PATTERN,
        "maxLength": TEMPLATE.language,
        "description": "en, en_US, pt_BR, sr_Latn_RS ...",
    },
    language_code,
)
