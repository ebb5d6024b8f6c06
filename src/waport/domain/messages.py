"""Outbound messages: one frozen class per mode, and ``OutboundMessage`` holding exactly one.

Every class validates itself on construction (attrs validators that raise
``WaportError``), so a value that exists is valid. Cross-field rules (a caption only
on image, video and document; unique button ids; rows per list) live in
``__attrs_post_init__``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Final, cast

import attrs

from waport.domain.attachments import (
    Media,
    MediaData,
    MediaId,
    MediaSource,
    MediaStored,
    MediaStream,
    MediaUrl,
)
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.interactive import (
    INTERACTIVE_TYPES,
    Button,
    ButtonsMessage,
    CallButton,
    CatalogMessage,
    CopyButton,
    CtaUrlMessage,
    Interactive,
    InteractiveHeader,
    InteractiveHeaderMedia,
    InteractiveHeaderText,
    ListMessage,
    ListRow,
    ListSection,
    ProductListMessage,
    ProductMessage,
    ProductSection,
    ReplyButton,
    UrlButton,
)
from waport.domain.limits import (
    CONTACT_NAME_MAX,
    LABEL_MAX,
    LABELS_MAX,
    METADATA_KEY_MAX,
    METADATA_MAX_KEYS,
    METADATA_VALUE_MAX,
    PROVIDER_MESSAGE_ID_MAX,
    SENDER_ID_MAX,
    TEMPLATE,
    TEXT,
    MediaKind,
)
from waport.domain.recipients import NOT_BLANK_PATTERN, Recipient
from waport.domain.validators import (
    Validator,
    aware,
    chars,
    emoji_or_empty,
    http_url,
    int_between,
    is_bool,
    items,
    language_code,
    number_between,
    required_chars,
    states,
)

JsonScalar = str | int | float | bool | None

# ----------------------------------------------------------------------------- text


@attrs.frozen
class Text:
    mode: ClassVar[str] = "text"

    body: str = attrs.field(validator=chars(TEXT.body, minimum=1, blank=False))
    preview_url: bool = attrs.field(default=False, validator=is_bool)


# ----------------------------------------------------------------------------- templates


@attrs.frozen(kw_only=True)
class Currency:
    fallback_value: str = attrs.field(validator=required_chars(TEMPLATE.body_param))
    code: str = attrs.field(validator=required_chars(3))
    amount_1000: int = attrs.field(validator=int_between(-(10**15), 10**15))


@attrs.frozen(kw_only=True)
class DateTime:
    fallback_value: str = attrs.field(validator=required_chars(TEMPLATE.body_param))


ParamValue = str | Currency | DateTime


def _check_params(maximum: int) -> Validator:
    def check(_: object, attribute: attrs.Attribute[Any], value: Mapping[str, ParamValue]) -> None:
        for key, item in value.items():
            if not key:
                raise WaportError(
                    ErrorCode.VALIDATION_FAILED,
                    "parameter keys must be non-empty strings",
                    attribute.name,
                )
            if isinstance(item, str):
                if not item.strip():
                    raise WaportError(
                        ErrorCode.VALIDATION_FAILED,
                        "a parameter must not be empty",
                        f"{attribute.name}.{key}",
                    )
                if len(item) > maximum:
                    raise WaportError(
                        ErrorCode.VALIDATION_FAILED,
                        f"a parameter may be at most {maximum} characters",
                        f"{attribute.name}.{key}",
                    )
            elif not isinstance(item, Currency | DateTime):
                raise WaportError(
                    ErrorCode.VALIDATION_FAILED,
                    "a parameter is a string, a currency or a date_time",
                    f"{attribute.name}.{key}",
                )

    return check


@attrs.frozen(kw_only=True)
class HeaderText:
    """Values for a text header's placeholders."""

    params: Mapping[str, ParamValue] = attrs.field(
        factory=dict, validator=_check_params(TEMPLATE.header_text_param)
    )


@attrs.frozen(kw_only=True)
class HeaderMedia:
    """The image, video or document of a media header."""

    media: Media

    def __attrs_post_init__(self) -> None:
        if self.media.kind not in (MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.DOCUMENT):
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                "a template header is an image, a video or a document",
                "type",
            )
        if self.media.caption is not None:
            raise WaportError(
                ErrorCode.CAPTION_NOT_ALLOWED, "a template header takes no caption", "caption"
            )


TemplateHeader = HeaderText | HeaderMedia


@attrs.frozen(kw_only=True)
class ButtonParam:
    """The dynamic value of a template button (URL suffix, quick-reply payload, coupon code)."""

    index: int = attrs.field(validator=int_between(0, TEMPLATE.button_index_max))
    param: str = attrs.field(validator=required_chars(TEMPLATE.button_param))


@attrs.frozen(kw_only=True)
class TemplateMessage:
    mode: ClassVar[str] = "template"

    name: str = attrs.field(validator=required_chars(TEMPLATE.name))
    language: str = attrs.field(validator=language_code)
    params: Mapping[str, ParamValue] = attrs.field(
        factory=dict, validator=_check_params(TEMPLATE.body_param)
    )
    header: TemplateHeader | None = None
    buttons: tuple[ButtonParam, ...] = attrs.field(
        default=(), validator=items(0, TEMPLATE.button_index_max + 1)
    )
    otp: str | None = attrs.field(
        default=None, validator=chars(TEMPLATE.otp, minimum=1, blank=False)
    )

    def __attrs_post_init__(self) -> None:
        seen: set[int] = set()
        for i, button in enumerate(self.buttons):
            if button.index in seen:
                raise WaportError(
                    ErrorCode.VALIDATION_FAILED,
                    "button indexes must be unique",
                    f"buttons[{i}].index",
                )
            seen.add(button.index)


# ----------------------------------------------------------------------------- location, contacts, reaction


@attrs.frozen(kw_only=True)
class Location:
    mode: ClassVar[str] = "location"

    latitude: float = attrs.field(validator=number_between(-90, 90))
    longitude: float = attrs.field(validator=number_between(-180, 180))
    name: str | None = attrs.field(default=None, validator=chars(1000, minimum=1))
    address: str | None = attrs.field(default=None, validator=chars(1000, minimum=1))


@attrs.frozen(kw_only=True)
class ContactName:
    formatted_name: str = attrs.field(validator=required_chars(CONTACT_NAME_MAX))
    first_name: str | None = attrs.field(default=None, validator=chars(CONTACT_NAME_MAX, minimum=1))
    last_name: str | None = attrs.field(default=None, validator=chars(CONTACT_NAME_MAX, minimum=1))
    middle_name: str | None = attrs.field(
        default=None, validator=chars(CONTACT_NAME_MAX, minimum=1)
    )
    prefix: str | None = attrs.field(default=None, validator=chars(CONTACT_NAME_MAX, minimum=1))
    suffix: str | None = attrs.field(default=None, validator=chars(CONTACT_NAME_MAX, minimum=1))


@attrs.frozen(kw_only=True)
class ContactPhone:
    phone: str = attrs.field(validator=required_chars(32))
    type: str | None = attrs.field(default=None, validator=chars(32, minimum=1))
    wa_id: str | None = attrs.field(default=None, validator=chars(32, minimum=1))


@attrs.frozen(kw_only=True)
class ContactEmail:
    email: str = attrs.field(validator=required_chars(320))
    type: str | None = attrs.field(default=None, validator=chars(32, minimum=1))


@attrs.frozen(kw_only=True)
class ContactUrl:
    url: str = attrs.field(validator=required_chars(2048))
    type: str | None = attrs.field(default=None, validator=chars(32, minimum=1))


@attrs.frozen(kw_only=True)
class ContactAddress:
    street: str | None = attrs.field(default=None, validator=chars(512, minimum=1))
    city: str | None = attrs.field(default=None, validator=chars(256, minimum=1))
    state: str | None = attrs.field(default=None, validator=chars(256, minimum=1))
    zip: str | None = attrs.field(default=None, validator=chars(32, minimum=1))
    country: str | None = attrs.field(default=None, validator=chars(256, minimum=1))
    country_code: str | None = attrs.field(default=None, validator=chars(8, minimum=1))
    type: str | None = attrs.field(default=None, validator=chars(32, minimum=1))


@attrs.frozen(kw_only=True)
class ContactOrg:
    company: str | None = attrs.field(default=None, validator=chars(256, minimum=1))
    department: str | None = attrs.field(default=None, validator=chars(256, minimum=1))
    title: str | None = attrs.field(default=None, validator=chars(256, minimum=1))


@attrs.frozen(kw_only=True)
class ContactCard:
    name: ContactName
    phones: tuple[ContactPhone, ...] = attrs.field(default=(), validator=items(0, 20))
    emails: tuple[ContactEmail, ...] = attrs.field(default=(), validator=items(0, 20))
    urls: tuple[ContactUrl, ...] = attrs.field(default=(), validator=items(0, 20))
    addresses: tuple[ContactAddress, ...] = attrs.field(default=(), validator=items(0, 20))
    org: ContactOrg | None = None
    birthday: str | None = attrs.field(default=None, validator=chars(10, minimum=10))


@attrs.frozen
class ContactCards:
    mode: ClassVar[str] = "contacts"

    cards: tuple[ContactCard, ...] = attrs.field(validator=items(1, 20))


@attrs.frozen(kw_only=True)
class Reaction:
    mode: ClassVar[str] = "reaction"

    message_id: str = attrs.field(validator=required_chars(PROVIDER_MESSAGE_ID_MAX))
    emoji: str = attrs.field(default="", validator=emoji_or_empty)


Content = Text | Media | TemplateMessage | Interactive | Location | ContactCards | Reaction
MODES: Final = ("text", "template", "media", "interactive", "location", "contacts", "reaction")

# ----------------------------------------------------------------------------- the message


def _check_metadata(
    _: object, attribute: attrs.Attribute[Any], value: Mapping[str, JsonScalar]
) -> None:
    if len(value) > METADATA_MAX_KEYS:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, f"at most {METADATA_MAX_KEYS} keys", attribute.name
        )
    for key, item in value.items():
        if not 1 <= len(key) <= METADATA_KEY_MAX:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                f"keys are 1-{METADATA_KEY_MAX} characters",
                attribute.name,
            )
        if item is not None and not isinstance(item, str | int | float | bool):
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                "values are strings, numbers, booleans or null",
                f"{attribute.name}.{key}",
            )
        if isinstance(item, float) and not math.isfinite(item):  # 1e400 parses as inf
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                "numbers are finite (within a double's range)",
                f"{attribute.name}.{key}",
            )
        if isinstance(item, str) and len(item) > METADATA_VALUE_MAX:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                f"values are at most {METADATA_VALUE_MAX} characters",
                f"{attribute.name}.{key}",
            )


def _check_labels(_: object, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    if len(value) > LABELS_MAX:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, f"at most {LABELS_MAX} labels", attribute.name
        )
    for i, label in enumerate(value):
        if not 1 <= len(label) <= LABEL_MAX or not label.strip():
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                f"a label is 1-{LABEL_MAX} characters",
                f"{attribute.name}[{i}]",
            )


states(
    {
        "type": "array",
        "maxItems": LABELS_MAX,
        "items": {
            "type": "string",
            "minLength": 1,
            "maxLength": LABEL_MAX,
            "pattern": NOT_BLANK_PATTERN,
        },
    },
    _check_labels,
)
states(
    {
        "type": "object",
        "description": "your own keys and values (strings, numbers, booleans or null)",
        "maxProperties": METADATA_MAX_KEYS,
        "propertyNames": {"minLength": 1, "maxLength": METADATA_KEY_MAX},
        "additionalProperties": {
            "type": ["string", "number", "boolean", "null"],
            "maxLength": METADATA_VALUE_MAX,
        },
    },
    _check_metadata,
)


@attrs.frozen(kw_only=True)
class ContactDetails:
    """What a send may say about the contact behind its recipient (upserted with the send)."""

    name: str | None = attrs.field(default=None, validator=chars(CONTACT_NAME_MAX, minimum=1))
    labels: tuple[str, ...] = attrs.field(default=(), validator=_check_labels)
    metadata: Mapping[str, JsonScalar] = attrs.field(factory=dict, validator=_check_metadata)


@attrs.frozen(kw_only=True)
class OutboundMessage:
    """A validated send request: a recipient, exactly one content mode, and options."""

    to: Recipient
    content: Content
    sender_id: str | None = attrs.field(default=None, validator=chars(SENDER_ID_MAX, minimum=1))
    reply_to: str | None = attrs.field(
        default=None, validator=chars(PROVIDER_MESSAGE_ID_MAX, minimum=1)
    )
    check_window: bool = attrs.field(default=True, validator=is_bool)
    scheduled_at: datetime | None = attrs.field(default=None, validator=aware)
    expires_at: datetime | None = attrs.field(default=None, validator=aware)
    webhook_url: str | None = attrs.field(default=None, validator=http_url)
    metadata: Mapping[str, JsonScalar] = attrs.field(factory=dict, validator=_check_metadata)
    contact: ContactDetails | None = None

    def __attrs_post_init__(self) -> None:
        if isinstance(self.content, Reaction) and self.reply_to is not None:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED, "a reaction cannot be a reply", "reply_to"
            )
        if self.scheduled_at and self.expires_at and self.expires_at <= self.scheduled_at:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED, "expires_at must be after scheduled_at", "expires_at"
            )

    @property
    def mode(self) -> str:
        return self.content.mode

    def fetched_urls(self) -> tuple[tuple[str, str], ...]:
        """``(field path, url)`` for every media URL in the content (what a provider will
        fetch), as the request names the field (``media.url``, ``template.header.media.url``)."""
        found: list[tuple[str, str]] = []

        def walk(value: object, path: str) -> None:
            if isinstance(value, MediaUrl):
                found.append((f"{path}.url", value.url))
            elif isinstance(value, tuple):
                for i, item in enumerate(value):
                    walk(item, f"{path}[{i}]")
            elif attrs.has(type(value)):
                for field in attrs.fields(cast(Any, type(value))):
                    name = "" if field.name == "source" else field.name
                    walk(getattr(value, field.name), f"{path}.{name}" if name else path)

        walk(self.content, self.content.mode)
        return tuple((path.replace(".header.media.", ".header."), url) for path, url in found)


__all__ = [
    "Button",
    "ButtonParam",
    "ButtonsMessage",
    "CallButton",
    "CatalogMessage",
    "ContactAddress",
    "ContactCard",
    "ContactCards",
    "ContactDetails",
    "ContactEmail",
    "ContactName",
    "ContactOrg",
    "ContactPhone",
    "ContactUrl",
    "Content",
    "CopyButton",
    "CtaUrlMessage",
    "Currency",
    "DateTime",
    "HeaderMedia",
    "HeaderText",
    "INTERACTIVE_TYPES",
    "Interactive",
    "InteractiveHeader",
    "InteractiveHeaderMedia",
    "InteractiveHeaderText",
    "JsonScalar",
    "ListMessage",
    "ListRow",
    "ListSection",
    "Location",
    "MODES",
    "Media",
    "MediaData",
    "MediaId",
    "MediaSource",
    "MediaStored",
    "MediaStream",
    "MediaUrl",
    "OutboundMessage",
    "ParamValue",
    "ProductListMessage",
    "ProductMessage",
    "ProductSection",
    "Reaction",
    "ReplyButton",
    "TemplateHeader",
    "TemplateMessage",
    "Text",
    "UrlButton",
]
