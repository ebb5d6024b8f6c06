"""Interactive messages: reply buttons, lists, call-to-action URLs, catalogues and products."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

import attrs

from waport.domain.attachments import Media
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.limits import (
    INTERACTIVE,
    MediaKind,
)
from waport.domain.validators import (
    chars,
    http_url,
    items,
    required_chars,
)

# ----------------------------------------------------------------------------- interactive


@attrs.frozen
class InteractiveHeaderText:
    text: str = attrs.field(validator=required_chars(INTERACTIVE.header_text))


@attrs.frozen
class InteractiveHeaderMedia:
    media: Media

    def __attrs_post_init__(self) -> None:
        if self.media.kind not in (MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.DOCUMENT):
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                "an interactive header is text, an image, a video or a document",
                "type",
            )
        if self.media.caption is not None:
            raise WaportError(ErrorCode.CAPTION_NOT_ALLOWED, "a header takes no caption", "caption")


InteractiveHeader = InteractiveHeaderText | InteractiveHeaderMedia


@attrs.frozen(kw_only=True)
class ReplyButton:
    kind: ClassVar[str] = "reply"
    id: str = attrs.field(validator=required_chars(INTERACTIVE.button_id))
    title: str = attrs.field(validator=required_chars(INTERACTIVE.button_title))


@attrs.frozen(kw_only=True)
class UrlButton:
    kind: ClassVar[str] = "url"
    title: str = attrs.field(validator=required_chars(INTERACTIVE.button_title))
    url: str = attrs.field(validator=http_url)


@attrs.frozen(kw_only=True)
class CallButton:
    kind: ClassVar[str] = "call"
    title: str = attrs.field(validator=required_chars(INTERACTIVE.button_title))
    phone: str = attrs.field(validator=required_chars(32))


@attrs.frozen(kw_only=True)
class CopyButton:
    kind: ClassVar[str] = "copy"
    title: str = attrs.field(validator=required_chars(INTERACTIVE.button_title))
    code: str = attrs.field(validator=required_chars(INTERACTIVE.button_id))


Button = ReplyButton | UrlButton | CallButton | CopyButton


@attrs.frozen(kw_only=True)
class ButtonsMessage:
    mode: ClassVar[str] = "interactive"
    type: ClassVar[str] = "buttons"

    body: str = attrs.field(validator=chars(INTERACTIVE.body_buttons, minimum=1, blank=False))
    buttons: tuple[Button, ...] = attrs.field(validator=items(1, INTERACTIVE.buttons_max))
    header: InteractiveHeader | None = None
    footer: str | None = attrs.field(default=None, validator=chars(INTERACTIVE.footer, minimum=1))

    def __attrs_post_init__(self) -> None:
        ids: set[str] = set()
        for i, button in enumerate(self.buttons):
            if isinstance(button, ReplyButton):
                if button.id in ids:
                    raise WaportError(
                        ErrorCode.VALIDATION_FAILED,
                        "reply button ids must be unique",
                        f"buttons[{i}].id",
                    )
                ids.add(button.id)


@attrs.frozen(kw_only=True)
class ListRow:
    id: str = attrs.field(validator=required_chars(INTERACTIVE.row_id))
    title: str = attrs.field(validator=required_chars(INTERACTIVE.row_title))
    description: str | None = attrs.field(
        default=None, validator=chars(INTERACTIVE.row_description)
    )


@attrs.frozen(kw_only=True)
class ListSection:
    title: str | None = attrs.field(
        default=None, validator=chars(INTERACTIVE.section_title, minimum=1)
    )
    rows: tuple[ListRow, ...] = attrs.field(validator=items(1, INTERACTIVE.rows_total_max))


@attrs.frozen(kw_only=True)
class ListMessage:
    mode: ClassVar[str] = "interactive"
    type: ClassVar[str] = "list"

    body: str = attrs.field(validator=chars(INTERACTIVE.body_list, minimum=1, blank=False))
    button: str = attrs.field(validator=required_chars(INTERACTIVE.list_button))
    sections: tuple[ListSection, ...] = attrs.field(validator=items(1, INTERACTIVE.sections_max))
    header: InteractiveHeaderText | None = None
    footer: str | None = attrs.field(default=None, validator=chars(INTERACTIVE.footer, minimum=1))

    def __attrs_post_init__(self) -> None:
        total = sum(len(s.rows) for s in self.sections)
        if total > INTERACTIVE.rows_total_max:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                f"a list has at most {INTERACTIVE.rows_total_max} rows in all, got {total}",
                "sections",
            )
        ids: set[str] = set()
        for i, section in enumerate(self.sections):
            if len(self.sections) > 1 and section.title is None:
                raise WaportError(
                    ErrorCode.VALIDATION_FAILED,
                    "each section needs a title when there is more than one",
                    f"sections[{i}].title",
                )
            for j, row in enumerate(section.rows):
                if row.id in ids:
                    raise WaportError(
                        ErrorCode.VALIDATION_FAILED,
                        "row ids must be unique",
                        f"sections[{i}].rows[{j}].id",
                    )
                ids.add(row.id)


@attrs.frozen(kw_only=True)
class CtaUrlMessage:
    mode: ClassVar[str] = "interactive"
    type: ClassVar[str] = "cta_url"

    body: str = attrs.field(validator=chars(INTERACTIVE.body_buttons, minimum=1, blank=False))
    display_text: str = attrs.field(validator=required_chars(INTERACTIVE.cta_display_text))
    url: str = attrs.field(validator=http_url)
    header: InteractiveHeader | None = None
    footer: str | None = attrs.field(default=None, validator=chars(INTERACTIVE.footer, minimum=1))


@attrs.frozen(kw_only=True)
class CatalogMessage:
    mode: ClassVar[str] = "interactive"
    type: ClassVar[str] = "catalog"

    body: str = attrs.field(validator=chars(INTERACTIVE.body_buttons, minimum=1, blank=False))
    thumbnail_product_retailer_id: str | None = attrs.field(
        default=None, validator=chars(256, minimum=1)
    )
    footer: str | None = attrs.field(default=None, validator=chars(INTERACTIVE.footer, minimum=1))


@attrs.frozen(kw_only=True)
class ProductMessage:
    mode: ClassVar[str] = "interactive"
    type: ClassVar[str] = "product"

    catalog_id: str = attrs.field(validator=required_chars(256))
    product_retailer_id: str = attrs.field(validator=required_chars(256))
    body: str | None = attrs.field(
        default=None, validator=chars(INTERACTIVE.body_buttons, minimum=1, blank=False)
    )
    footer: str | None = attrs.field(default=None, validator=chars(INTERACTIVE.footer, minimum=1))


@attrs.frozen(kw_only=True)
class ProductSection:
    title: str = attrs.field(validator=required_chars(INTERACTIVE.section_title))
    product_retailer_ids: tuple[str, ...] = attrs.field(
        validator=items(1, INTERACTIVE.product_items_max)
    )


@attrs.frozen(kw_only=True)
class ProductListMessage:
    mode: ClassVar[str] = "interactive"
    type: ClassVar[str] = "product_list"

    catalog_id: str = attrs.field(validator=required_chars(256))
    header: InteractiveHeaderText
    body: str = attrs.field(validator=chars(INTERACTIVE.body_buttons, minimum=1, blank=False))
    sections: tuple[ProductSection, ...] = attrs.field(
        validator=items(1, INTERACTIVE.product_sections_max)
    )
    footer: str | None = attrs.field(default=None, validator=chars(INTERACTIVE.footer, minimum=1))

    def __attrs_post_init__(self) -> None:
        total = sum(len(s.product_retailer_ids) for s in self.sections)
        if total > INTERACTIVE.product_items_max:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                f"a product list has at most {INTERACTIVE.product_items_max} products",
                "sections",
            )


Interactive = (
    ButtonsMessage
    | ListMessage
    | CtaUrlMessage
    | CatalogMessage
    | ProductMessage
    | ProductListMessage
)
INTERACTIVE_TYPES: Final[Mapping[str, type[Interactive]]] = {
    cls.type: cls
    for cls in (
        ButtonsMessage,
        ListMessage,
        CtaUrlMessage,
        CatalogMessage,
        ProductMessage,
        ProductListMessage,
    )
}


BUTTON_TYPES: Final[Mapping[str, type[Any]]] = {
    "reply": ReplyButton,
    "url": UrlButton,
    "call": CallButton,
    "copy": CopyButton,
}
