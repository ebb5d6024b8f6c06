"""A template to create (``POST /v1/templates``): its fields, checked as Meta documents
them before anything reaches the provider, and the spec it becomes.

The rules, each refused with ``VALIDATION_FAILED`` naming the field:

* ``name``: lowercase letters, digits and ``_``, at most 512; ``language``: ``en`` or
  ``en_US``; ``category``: ``MARKETING``, ``UTILITY`` or ``AUTHENTICATION``.
* ``body``: 1 to 1,024 characters. Its parameters are numbered (``{{1}}`` .. ``{{n}}``,
  every number from 1 to n) or named (``{{first_name}}``: lowercase letters and ``_``),
  never both, and never the first or last thing in the text. ``examples`` gives one
  sample value per parameter, and nothing else.
* ``header``: ``TEXT`` (at most 60 characters and one parameter, in the body's style,
  with its example), ``IMAGE``, ``VIDEO`` or ``DOCUMENT`` (with a sample's upload handle
  as ``example``), or ``LOCATION``. ``footer``: at most 60 characters, no parameters.
* ``buttons``: at most 10; quick replies (at most 10) side by side, not split by other
  buttons; at most 2 ``URL`` (a URL of at most 2,000 characters whose only parameter is
  ``{{1}}`` at its end, with an example URL), 1 ``PHONE_NUMBER`` (at most 20 characters)
  and 1 ``COPY_CODE`` (marketing only; an example code of at most 15 characters).
  A label is 1 to 25 characters.
* ``AUTHENTICATION``: Meta writes the text; the template is exactly one ``OTP`` button
  (no body, header, footer or other button), and ``OTP`` buttons are for it alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import attrs

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.templates import (
    ButtonKind,
    HeaderFormat,
    TemplateButtonSpec,
    TemplateCategory,
    TemplateSpec,
    TemplateStatus,
    placeholders,
    spec_from_text,
)

NAME: Final = re.compile(r"[a-z0-9_]{1,512}")
LANGUAGE: Final = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")
NAMED_PARAM: Final = re.compile(r"[a-z_]+")
BODY_MAX: Final = 1_024
HEADER_MAX: Final = 60
FOOTER_MAX: Final = 60
LABEL_MAX: Final = 25
URL_MAX: Final = 2_000
PHONE_MAX: Final = 20
CODE_MAX: Final = 15
BUTTONS_MAX: Final = 10
PER_KIND: Final = {
    ButtonKind.QUICK_REPLY: 10,
    ButtonKind.URL: 2,
    ButtonKind.PHONE_NUMBER: 1,
    ButtonKind.COPY_CODE: 1,
    ButtonKind.OTP: 1,
}
"""The button kinds a template may be created with, and how many of each."""
AUTH_BODY: Final = "{{1}} is your verification code."
"""What Meta shows for an authentication template (the code is its one parameter)."""

FIELDS: Final = (
    "sender_id",
    "name",
    "language",
    "category",
    "body",
    "examples",
    "header",
    "footer",
    "buttons",
)
_HEADER_FIELDS: Final = ("format", "text", "examples", "example")
_BUTTON_FIELDS: Final = ("type", "text", "url", "phone_number", "example")
MEDIA_HEADERS: Final = (HeaderFormat.IMAGE, HeaderFormat.VIDEO, HeaderFormat.DOCUMENT)
PHONE: Final = re.compile(r"\+?[0-9]{4,19}")
_URL_PARAM: Final = "{{1}}"
_EDGE_PARAM: Final = re.compile(r"^\s*\{\{\s*\w+\s*\}\}|\{\{\s*\w+\s*\}\}\s*$")

Examples = tuple[tuple[str, str], ...]


@attrs.frozen(kw_only=True)
class DraftButton:
    kind: ButtonKind
    text: str = ""
    url: str | None = None
    phone_number: str | None = None
    example: str | None = None
    """A ``URL`` button's example URL, or a ``COPY_CODE`` button's example code."""

    @property
    def dynamic(self) -> bool:
        """Whether a send supplies a value for it (URL suffix, code, OTP)."""
        return self.kind in (ButtonKind.COPY_CODE, ButtonKind.OTP) or (
            self.kind == ButtonKind.URL and _URL_PARAM in (self.url or "")
        )


@attrs.frozen(kw_only=True)
class TemplateDraft:
    """A template as the caller asks for it, every rule above checked."""

    sender_id: str
    name: str
    language: str
    category: TemplateCategory
    body: str = ""
    examples: Examples = ()
    header_format: HeaderFormat | None = None
    header_text: str = ""
    header_examples: Examples = ()
    header_handle: str | None = None
    footer: str = ""
    buttons: tuple[DraftButton, ...] = ()

    @property
    def named(self) -> bool:
        """Whether its parameters are named (Meta's ``parameter_format: NAMED``)."""
        return any(not key.isdigit() for key, _ in self.examples + self.header_examples)

    def spec(self, *, status: TemplateStatus, provider_id: str | None) -> TemplateSpec:
        """The catalogue entry of this template, as the provider reported it created."""
        return spec_from_text(
            sender_id=self.sender_id,
            name=self.name,
            language=self.language,
            body=AUTH_BODY if self.category == TemplateCategory.AUTHENTICATION else self.body,
            status=status,
            category=self.category,
            header_format=self.header_format,
            header_text=self.header_text,
            footer=self.footer,
            buttons=tuple(
                TemplateButtonSpec(index=i, kind=b.kind, text=b.text, dynamic=b.dynamic)
                for i, b in enumerate(self.buttons)
            ),
            provider_id=provider_id,
        )


def _refuse(message: str, param: str) -> WaportError:
    return WaportError(ErrorCode.VALIDATION_FAILED, message, param)


def _fields(value: object, allowed: tuple[str, ...], param: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _refuse("must be a JSON object", param)
    for name in value:
        if name not in allowed:
            where = f"{param}.{name}" if param != "body" else str(name)
            raise _refuse(f"unknown field (allowed: {', '.join(allowed)})", where)
    return value


def _text(value: object, param: str, *, most: int, least: int = 1) -> str:
    if not isinstance(value, str) or not least <= len(value) <= most:
        raise _refuse(f"a string of {least} to {most} characters", param)
    return value


def _enum(value: object, kinds: Any, param: str) -> Any:
    allowed = [k.value for k in kinds]
    if value not in allowed:
        raise _refuse(f"one of {', '.join(allowed)}", param)
    return kinds(value)


def _examples(value: object, wanted: tuple[str, ...], param: str) -> Examples:
    """One non-empty sample per parameter of ``wanted``, keyed by the parameter."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise _refuse("an object of one example value per parameter", param)
    for key in value:
        if key not in wanted:
            raise _refuse("no such parameter in the text", f"{param}.{key}")
    for key in wanted:
        if key not in value:
            raise _refuse("every parameter needs an example value", f"{param}.{key}")
        _text(value[key], f"{param}.{key}", most=BODY_MAX)
    return tuple((key, str(value[key])) for key in wanted)


def _parameters(text: str, param: str, *, named: bool | None) -> tuple[str, ...]:
    """The parameters of a text, checked: one style, numbers 1..n, names as Meta allows."""
    keys = placeholders(text)
    numbered = [k for k in keys if k.isdigit()]
    if numbered and len(numbered) != len(keys):
        raise _refuse("parameters are all numbered or all named, not both", param)
    if numbered:
        if named:
            raise _refuse("the body's parameters are named: name this one too", param)
        if sorted(int(k) for k in keys) != list(range(1, len(keys) + 1)):
            raise _refuse("numbered parameters run from {{1}} without a gap", param)
    elif keys:
        if named is False:
            raise _refuse("the body's parameters are numbered: number this one too", param)
        bad = [k for k in keys if not NAMED_PARAM.fullmatch(k)]
        if bad:
            raise _refuse(f"a parameter name is lowercase letters and _: {bad[0]}", param)
    return keys


def _style(keys: tuple[str, ...]) -> bool | None:
    return None if not keys else not keys[0].isdigit()


def _header(value: object, named: bool | None) -> tuple[HeaderFormat, str, Examples, str | None]:
    header = _fields(value, _HEADER_FIELDS, "header")
    fmt: HeaderFormat = _enum(header.get("format"), HeaderFormat, "header.format")
    if fmt == HeaderFormat.TEXT:
        if "example" in header:
            raise _refuse("a text header's samples are in examples", "header.example")
        text = _text(header.get("text"), "header.text", most=HEADER_MAX)
        keys = _parameters(text, "header.text", named=named)
        if len(keys) > 1:
            raise _refuse("a text header takes at most one parameter", "header.text")
        if keys and keys[0].isdigit() and keys[0] != "1":
            raise _refuse("a text header's parameter is {{1}}", "header.text")
        return fmt, text, _examples(header.get("examples"), keys, "header.examples"), None
    for name in ("text", "examples"):
        if name in header:
            raise _refuse(f"a {fmt.value} header has no {name}", f"header.{name}")
    if fmt in MEDIA_HEADERS:
        handle = _text(header.get("example"), "header.example", most=URL_MAX)
        return fmt, "", (), handle
    if "example" in header:
        raise _refuse("a LOCATION header has no example", "header.example")
    return fmt, "", (), None


def _button(value: object, param: str) -> DraftButton:
    button = _fields(value, _BUTTON_FIELDS, param)
    kinds = [k.value for k in PER_KIND]
    kind_value = button.get("type")
    if kind_value not in kinds:
        raise _refuse(f"one of {', '.join(kinds)}", f"{param}.type")
    kind = ButtonKind(kind_value)
    wants = {
        ButtonKind.QUICK_REPLY: {"type", "text"},
        ButtonKind.URL: {"type", "text", "url", "example"},
        ButtonKind.PHONE_NUMBER: {"type", "text", "phone_number"},
        ButtonKind.COPY_CODE: {"type", "example"},
        ButtonKind.OTP: {"type", "text"},
    }[kind]
    for name in button:
        if name not in wants:
            raise _refuse(f"a {kind.value} button has no {name}", f"{param}.{name}")
    text = ""
    if kind != ButtonKind.COPY_CODE and (kind != ButtonKind.OTP or "text" in button):
        text = _text(button.get("text"), f"{param}.text", most=LABEL_MAX)
    if kind == ButtonKind.URL:
        url = _text(button.get("url"), f"{param}.url", most=URL_MAX)
        if not url.startswith(("https://", "http://")):
            raise _refuse("an http or https URL", f"{param}.url")
        keys = placeholders(url)
        if keys and (keys != ("1",) or not url.endswith(_URL_PARAM)):
            raise _refuse("a URL's one parameter is {{1}}, at its end", f"{param}.url")
        example = None
        if keys:
            example = _text(button.get("example"), f"{param}.example", most=URL_MAX)
        elif "example" in button:
            raise _refuse("a URL without a parameter takes no example", f"{param}.example")
        return DraftButton(kind=kind, text=text, url=url, example=example)
    if kind == ButtonKind.PHONE_NUMBER:
        phone = button.get("phone_number")
        if not isinstance(phone, str) or len(phone) > PHONE_MAX or not PHONE.fullmatch(phone):
            raise _refuse("a phone number of digits, + first if any", f"{param}.phone_number")
        return DraftButton(kind=kind, text=text, phone_number=phone)
    if kind == ButtonKind.COPY_CODE:
        code = _text(button.get("example"), f"{param}.example", most=CODE_MAX)
        return DraftButton(kind=kind, example=code)
    return DraftButton(kind=kind, text=text)


def _buttons(value: object, category: TemplateCategory) -> tuple[DraftButton, ...]:
    if value is None:
        value = []
    if not isinstance(value, list) or len(value) > BUTTONS_MAX:
        raise _refuse(f"a list of at most {BUTTONS_MAX} buttons", "buttons")
    buttons = tuple(_button(b, f"buttons[{i}]") for i, b in enumerate(value))
    kinds = [b.kind for b in buttons]
    for kind, most in PER_KIND.items():
        if kinds.count(kind) > most:
            raise _refuse(f"at most {most} {kind.value} button(s)", "buttons")
    quick = [i for i, k in enumerate(kinds) if k == ButtonKind.QUICK_REPLY]
    if quick and quick[-1] - quick[0] + 1 != len(quick):
        raise _refuse("quick replies go side by side, not split by other buttons", "buttons")
    if ButtonKind.COPY_CODE in kinds and category != TemplateCategory.MARKETING:
        raise _refuse("a COPY_CODE button is for MARKETING templates", "buttons")
    authentication = category == TemplateCategory.AUTHENTICATION
    if authentication and kinds != [ButtonKind.OTP]:
        raise _refuse("an AUTHENTICATION template has exactly one OTP button", "buttons")
    if not authentication and ButtonKind.OTP in kinds:
        raise _refuse("OTP buttons are for AUTHENTICATION templates", "buttons")
    return buttons


def parse_draft(body: object, sender_id: str) -> TemplateDraft:
    """The template ``body`` asks for (``sender_id``: the sender it is for, resolved),
    or ``VALIDATION_FAILED`` naming the first field that breaks a rule."""
    fields = _fields(body, FIELDS, "body")
    name = fields.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise _refuse("1-512 lowercase letters, digits and _", "name")
    language = fields.get("language")
    if not isinstance(language, str) or not LANGUAGE.fullmatch(language):
        raise _refuse("a language code such as en or en_US", "language")
    category: TemplateCategory = _enum(fields.get("category"), TemplateCategory, "category")
    buttons = _buttons(fields.get("buttons"), category)
    if category == TemplateCategory.AUTHENTICATION:
        for extra in ("body", "examples", "header", "footer"):
            if extra in fields:
                raise _refuse("Meta writes an AUTHENTICATION template's text", extra)
        return TemplateDraft(
            sender_id=sender_id, name=name, language=language, category=category, buttons=buttons
        )
    text = _text(fields.get("body"), "body", most=BODY_MAX)
    keys = _parameters(text, "body", named=None)
    if _EDGE_PARAM.search(text):
        raise _refuse("the body may not start or end with a parameter", "body")
    examples = _examples(fields.get("examples"), keys, "examples")
    header_format: HeaderFormat | None = None
    header_text, handle = "", None
    header_examples: Examples = ()
    if fields.get("header") is not None:
        header_format, header_text, header_examples, handle = _header(
            fields["header"], _style(keys)
        )
    footer = ""
    if fields.get("footer") is not None:
        footer = _text(fields["footer"], "footer", most=FOOTER_MAX)
        if placeholders(footer):
            raise _refuse("a footer takes no parameters", "footer")
    return TemplateDraft(
        sender_id=sender_id,
        name=name,
        language=language,
        category=category,
        body=text,
        examples=examples,
        header_format=header_format,
        header_text=header_text,
        header_examples=header_examples,
        header_handle=handle,
        footer=footer,
        buttons=buttons,
    )
