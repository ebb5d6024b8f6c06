"""Templates: what a template needs (``TemplateSpec``) and whether a send supplies it.

A template belongs to a sender and has a name, a language, a status and a
category. Only ``APPROVED`` templates send. Its parameters are positional
(``{{1}}``..``{{n}}``) or named (``{{first_name}}``), per component: header (text,
or media for IMAGE/VIDEO/DOCUMENT headers), body, and dynamic buttons by index;
authentication templates take an OTP.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Final

import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.limits import MediaKind
from waport.domain.messages import HeaderMedia, HeaderText, ParamValue, TemplateMessage


class TemplateStatus(enum.StrEnum):
    APPROVED = "APPROVED"
    PENDING = "PENDING"
    REJECTED = "REJECTED"
    PAUSED = "PAUSED"
    DISABLED = "DISABLED"
    IN_APPEAL = "IN_APPEAL"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    ARCHIVED = "ARCHIVED"
    DELETED = "DELETED"


class TemplateCategory(enum.StrEnum):
    MARKETING = "MARKETING"
    UTILITY = "UTILITY"
    AUTHENTICATION = "AUTHENTICATION"


class HeaderFormat(enum.StrEnum):
    TEXT = "TEXT"
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    DOCUMENT = "DOCUMENT"
    LOCATION = "LOCATION"


class ButtonKind(enum.StrEnum):
    QUICK_REPLY = "QUICK_REPLY"
    URL = "URL"
    PHONE_NUMBER = "PHONE_NUMBER"
    COPY_CODE = "COPY_CODE"
    OTP = "OTP"
    FLOW = "FLOW"
    CATALOG = "CATALOG"
    MPM = "MPM"
    OTHER = "OTHER"


# Button kinds that need a value at send time when ``dynamic``; quick replies take an optional payload.
_OPTIONAL_PARAM: Final = frozenset({ButtonKind.QUICK_REPLY})
_HEADER_MEDIA: Final[Mapping[HeaderFormat, MediaKind]] = {
    HeaderFormat.IMAGE: MediaKind.IMAGE,
    HeaderFormat.VIDEO: MediaKind.VIDEO,
    HeaderFormat.DOCUMENT: MediaKind.DOCUMENT,
}


@attrs.frozen(kw_only=True)
class TemplateButtonSpec:
    index: int
    kind: ButtonKind
    text: str = ""
    dynamic: bool = False
    """True when the button takes a value at send time (URL suffix, coupon code, OTP)."""


@attrs.frozen(kw_only=True)
class TemplateSpec:
    """What a sender's template is and what a send of it must supply."""

    sender_id: str
    name: str
    language: str
    status: TemplateStatus = TemplateStatus.APPROVED
    category: TemplateCategory = TemplateCategory.UTILITY
    body: str = ""
    body_params: tuple[str, ...] = ()
    header_format: HeaderFormat | None = None
    header_text: str = ""
    header_params: tuple[str, ...] = ()
    footer: str = ""
    buttons: tuple[TemplateButtonSpec, ...] = ()
    provider_id: str | None = None
    quality: str | None = None
    """The provider's quality rating (Meta: ``GREEN``, ``YELLOW``, ``RED``, ``UNKNOWN``)."""
    reason: str | None = None
    """Why the provider last changed its status (a rejection's reason), if it said."""

    @property
    def positional(self) -> bool:
        return all(key.isdigit() for key in self.body_params + self.header_params)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.sender_id, self.name, self.language)


_PLACEHOLDER: Final = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


def placeholders(text: str) -> tuple[str, ...]:
    """The placeholder keys of a component text, in order of first appearance.

    Positional keys sort numerically (``{{2}} {{1}}`` -> ``("1", "2")``), as Meta binds
    them by number, not by position in the text.
    """
    seen: dict[str, None] = {}
    for match in _PLACEHOLDER.finditer(text):
        seen.setdefault(match.group(1), None)
    keys = tuple(seen)
    if keys and all(k.isdigit() for k in keys):
        return tuple(sorted(keys, key=int))
    return keys


def spec_from_text(
    *,
    sender_id: str,
    name: str,
    language: str,
    body: str,
    status: TemplateStatus = TemplateStatus.APPROVED,
    category: TemplateCategory = TemplateCategory.UTILITY,
    header_format: HeaderFormat | None = None,
    header_text: str = "",
    footer: str = "",
    buttons: tuple[TemplateButtonSpec, ...] = (),
    provider_id: str | None = None,
) -> TemplateSpec:
    """Build a spec from a template's texts: placeholders are read from body and header."""
    return TemplateSpec(
        sender_id=sender_id,
        name=name,
        language=language,
        status=status,
        category=category,
        body=body,
        body_params=placeholders(body),
        header_format=header_format,
        header_text=header_text,
        header_params=placeholders(header_text) if header_format == HeaderFormat.TEXT else (),
        footer=footer,
        buttons=buttons,
        provider_id=provider_id,
    )


@attrs.frozen(kw_only=True)
class BoundButton:
    index: int
    kind: ButtonKind
    value: str


@attrs.frozen(kw_only=True)
class BoundTemplate:
    """A template send with every value in the order its spec wants; ready for a wire format."""

    name: str
    language: str
    category: TemplateCategory
    positional: bool
    body: tuple[tuple[str, ParamValue], ...]
    header_text: tuple[tuple[str, ParamValue], ...] = ()
    header_media: HeaderMedia | None = None
    buttons: tuple[BoundButton, ...] = ()


def _keys_message(label: str, keys: list[str]) -> str:
    return f"{label}: {', '.join(keys)}"


def _bind_keys(
    expected: tuple[str, ...], given: Mapping[str, ParamValue], param: str
) -> tuple[tuple[str, ParamValue], ...]:
    unknown = sorted(
        set(given) - set(expected), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k)
    )
    if unknown:
        expected_text = ", ".join(expected) if expected else "none"
        raise WaportError(
            ErrorCode.TEMPLATE_PARAM_COUNT_MISMATCH,
            f"{_keys_message('unknown parameters', unknown)} (the template expects {len(expected)}: {expected_text})",
            param,
            details=tuple(unknown),
        )
    missing = [k for k in expected if k not in given]
    if missing:
        raise WaportError(
            ErrorCode.MISSING_TEMPLATE_VARIABLES,
            _keys_message("missing parameters", missing),
            param,
            details=tuple(missing),
        )
    return tuple((k, given[k]) for k in expected)


def check_template_params(spec: TemplateSpec, message: TemplateMessage) -> BoundTemplate:
    """Check that ``message`` supplies exactly what ``spec`` needs, and bind the values.

    Raises ``TEMPLATE_NOT_APPROVED`` for a template that is not approved,
    ``MISSING_TEMPLATE_VARIABLES`` (listing the keys) when values are missing, and
    ``TEMPLATE_PARAM_COUNT_MISMATCH`` (listing them) for extra or unknown keys.
    """
    if spec.status != TemplateStatus.APPROVED:
        raise WaportError(
            ErrorCode.TEMPLATE_NOT_APPROVED,
            f"template {spec.name!r} ({spec.language}) is {spec.status}, not APPROVED",
            "template.name",
        )
    body_given: dict[str, ParamValue] = dict(message.params)
    otp_buttons = [b for b in spec.buttons if b.kind == ButtonKind.OTP]
    if message.otp is not None:
        if spec.category != TemplateCategory.AUTHENTICATION:
            raise WaportError(
                ErrorCode.TEMPLATE_PARAM_COUNT_MISMATCH,
                "only an AUTHENTICATION template takes an otp",
                "template.otp",
                details=("otp",),
            )
        if spec.body_params:
            body_given.setdefault(spec.body_params[0], message.otp)
    elif (
        spec.category == TemplateCategory.AUTHENTICATION
        and (otp_buttons or spec.body_params)
        and not body_given
    ):
        raise WaportError(
            ErrorCode.MISSING_TEMPLATE_VARIABLES,
            "missing parameters: otp",
            "template.otp",
            details=("otp",),
        )

    body = _bind_keys(spec.body_params, body_given, "template.params")

    header_text: tuple[tuple[str, ParamValue], ...] = ()
    header_media: HeaderMedia | None = None
    header = message.header
    if spec.header_format is None:
        if header is not None and not (isinstance(header, HeaderText) and not header.params):
            raise WaportError(
                ErrorCode.TEMPLATE_PARAM_COUNT_MISMATCH,
                "the template has no header parameters",
                "template.header",
                details=("header",),
            )
    elif spec.header_format == HeaderFormat.TEXT:
        if isinstance(header, HeaderMedia):
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                "the template's header is text, not media",
                "template.header.type",
            )
        given = header.params if isinstance(header, HeaderText) else {}
        header_text = _bind_keys(spec.header_params, given, "template.header.params")
    elif spec.header_format in _HEADER_MEDIA:
        wanted = _HEADER_MEDIA[spec.header_format]
        if header is None:
            raise WaportError(
                ErrorCode.MISSING_TEMPLATE_VARIABLES,
                f"missing parameters: header ({wanted.value})",
                "template.header",
                details=("header",),
            )
        if not isinstance(header, HeaderMedia) or header.media.kind != wanted:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                f"the template's header is {wanted.value} media",
                "template.header.type",
            )
        header_media = header
    else:
        raise WaportError(
            ErrorCode.FEATURE_NOT_SUPPORTED,
            f"{spec.header_format.value} headers cannot be sent by waport",
            "template.header",
        )

    by_index = {b.index: b for b in spec.buttons}
    bound_buttons: list[BoundButton] = []
    given_indexes: set[int] = set()
    for i, button in enumerate(message.buttons):
        spec_button = by_index.get(button.index)
        if spec_button is None or not (spec_button.dynamic or spec_button.kind in _OPTIONAL_PARAM):
            raise WaportError(
                ErrorCode.TEMPLATE_PARAM_COUNT_MISMATCH,
                f"the template has no button {button.index} that takes a parameter",
                f"template.buttons[{i}].index",
                details=(f"buttons[{button.index}]",),
            )
        given_indexes.add(button.index)
        bound_buttons.append(
            BoundButton(index=button.index, kind=spec_button.kind, value=button.param)
        )
    missing_buttons: list[str] = []
    for spec_button in spec.buttons:
        if not spec_button.dynamic or spec_button.index in given_indexes:
            continue
        if spec_button.kind == ButtonKind.OTP and message.otp is not None:
            bound_buttons.append(
                BoundButton(index=spec_button.index, kind=spec_button.kind, value=message.otp)
            )
            continue
        missing_buttons.append(f"buttons[{spec_button.index}]")
    if missing_buttons:
        raise WaportError(
            ErrorCode.MISSING_TEMPLATE_VARIABLES,
            _keys_message("missing parameters", missing_buttons),
            "template.buttons",
            details=tuple(missing_buttons),
        )
    return BoundTemplate(
        name=spec.name,
        language=spec.language,
        category=spec.category,
        positional=spec.positional,
        body=body,
        header_text=header_text,
        header_media=header_media,
        buttons=tuple(sorted(bound_buttons, key=lambda b: b.index)),
    )
