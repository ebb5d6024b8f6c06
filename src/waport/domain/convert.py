"""The REST converter: request dicts (DESIGN §5) to domain values.

Structuring is strict: unknown keys are refused, types are not coerced (``"5"`` is
not an integer, ``1`` is not a string), and every failure becomes a
``WaportError`` whose ``param`` is the path into the request
(``interactive.sections[0].rows[2].title``). The first failure is raised; the
rest are listed in ``details``.

``waport.domain.render.to_request_dict`` is its inverse:
``parse_send_request(to_request_dict(m)) == m``. Stores keep messages in a shape of
their own (``waport.codec``), never this one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final, TypeVar

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn

from waport.domain.broadcast import BroadcastRecipient, BroadcastRequest
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.interactive import BUTTON_TYPES
from waport.domain.limits import BROADCAST, MediaKind
from waport.domain.media import infer_kind, parse_data_uri
from waport.domain.messages import (
    INTERACTIVE_TYPES,
    MODES,
    CallButton,
    ContactCard,
    ContactCards,
    ContactDetails,
    Content,
    CopyButton,
    Currency,
    DateTime,
    HeaderMedia,
    HeaderText,
    InteractiveHeaderMedia,
    InteractiveHeaderText,
    Location,
    Media,
    MediaData,
    MediaId,
    MediaUrl,
    OutboundMessage,
    ParamValue,
    Reaction,
    ReplyButton,
    TemplateMessage,
    Text,
    UrlButton,
)
from waport.domain.recipients import Recipient, parse_recipient
from waport.domain.validators import join, json_int

T = TypeVar("T")
Path = tuple[str | int, ...]

_MISPLACED: Final[Mapping[str, str]] = {
    "caption": "caption belongs inside media (image, video or document)",
    "header": "header belongs inside interactive (buttons, list or cta_url)",
    "footer": "footer belongs inside interactive (buttons, list or cta_url)",
    "buttons": "buttons belong inside interactive (type buttons) or template",
    "filename": "filename belongs inside media (document)",
}
SEND_OPTIONS: Final = frozenset(
    {
        "to",
        "sender_id",
        "reply_to",
        "check_window",
        "scheduled_at",
        "expires_at",
        "webhook_url",
        "metadata",
        "contact",
    }
)
_MEDIA_KEYS: Final = frozenset(
    {"type", "url", "data", "id", "caption", "filename", "mime_type", "voice", "animated"}
)


# ----------------------------------------------------------------------------- error paths


def _path_text(path: Path) -> str | None:
    text = ""
    for part in path:
        text = f"{text}[{part}]" if isinstance(part, int) else (f"{text}.{part}" if text else part)
    return text or None


def _leaves(exc: BaseException, path: Path) -> Iterator[tuple[Path, BaseException]]:
    if isinstance(exc, ClassValidationError | IterableValidationError | BaseExceptionGroup):
        for sub in exc.exceptions:
            sub_path = path
            for note in getattr(sub, "__notes__", ()):
                if isinstance(note, AttributeValidationNote):
                    sub_path = (*sub_path, note.name)
                elif isinstance(note, IterableValidationNote):
                    sub_path = (*sub_path, note.index)
            yield from _leaves(sub, sub_path)
    else:
        yield path, exc


def _leaf_error(path: Path, exc: BaseException) -> WaportError:
    where = _path_text(path)
    if isinstance(exc, WaportError):
        return WaportError(exc.code, exc.message, join(where, exc.param), details=exc.details)
    if isinstance(exc, ForbiddenExtraKeysError):
        extra = sorted(exc.extra_fields)
        return WaportError(
            ErrorCode.VALIDATION_FAILED, f"unknown field {extra[0]!r}", join(where, extra[0])
        )
    if isinstance(exc, KeyError):
        return WaportError(ErrorCode.VALIDATION_FAILED, "is required", where)
    if (
        isinstance(exc, TypeError | ValueError)
        and exc.args
        and isinstance(exc.args[0], str)
        and exc.args[0].startswith("must ")
    ):
        return WaportError(ErrorCode.VALIDATION_FAILED, exc.args[0], where)
    return WaportError(ErrorCode.VALIDATION_FAILED, "has the wrong type or shape", where)


def _translate(exc: BaseException, prefix: str | None) -> WaportError:
    leaves = list(_leaves(exc, ()))
    errors = [_leaf_error(path, leaf) for path, leaf in leaves] or [_leaf_error((), exc)]
    first = errors[0]
    details = first.details + tuple(f"{join(prefix, e.param)}: {e.message}" for e in errors[1:])
    return WaportError(first.code, first.message, join(prefix, first.param), details=details)


def _at(name: str | int | None, build: Callable[[], T]) -> T:
    """Run ``build`` and report any failure under the relative path ``name``."""
    prefix = f"[{name}]" if isinstance(name, int) else name
    try:
        return build()
    except WaportError as exc:
        raise WaportError(
            exc.code, exc.message, join(prefix, exc.param), details=exc.details
        ) from None
    except (
        ClassValidationError,
        IterableValidationError,
        ForbiddenExtraKeysError,
        KeyError,
        TypeError,
        ValueError,
    ) as exc:
        raise _translate(exc, prefix) from None


# ----------------------------------------------------------------------------- strict scalars


def _object(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WaportError(ErrorCode.VALIDATION_FAILED, "must be an object")
    return value


def _str(value: Any, _: Any = None) -> str:
    if not isinstance(value, str):
        raise TypeError("must be a string")
    return value


def _bool(value: Any, _: Any = None) -> bool:
    if not isinstance(value, bool):
        raise TypeError("must be true or false")
    return value


def _int(value: Any, _: Any = None) -> int:
    whole = json_int(value)
    if whole is None:
        raise TypeError("must be an integer")
    return whole


def _float(value: Any, _: Any = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError("must be a number")
    return float(value)


def _datetime(value: Any, _: Any = None) -> datetime:
    if not isinstance(value, str):
        raise TypeError("must be an ISO 8601 date-time string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 date-time such as 2026-12-01T09:00:00Z") from None
    if parsed.tzinfo is None:
        raise ValueError("must carry a time zone (Z or +hh:mm)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-02:00 is in year 10000 in UTC
        raise ValueError("must fall within the years 1 to 9999 in UTC") from None


def _scalar_map(value: Any, _: Any = None) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError("must be an object")
    return dict(value)


def _param_value(value: Any) -> ParamValue:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        kind = value.get("type")
        rest = {k: v for k, v in value.items() if k != "type"}
        if kind == "currency":
            return _CONVERTER.structure(rest, Currency)
        if kind == "date_time":
            return _CONVERTER.structure(rest, DateTime)
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, "a typed parameter has type currency or date_time", "type"
        )
    raise WaportError(
        ErrorCode.VALIDATION_FAILED,
        "a parameter is a string, a number, or a currency/date_time object",
    )


def _params(value: Any) -> dict[str, ParamValue]:
    """Template parameters: a list (positional: 1..n) or an object (positional or named keys)."""
    if isinstance(value, list):
        return {str(i + 1): _at(i, partial(_param_value, item)) for i, item in enumerate(value)}
    if isinstance(value, Mapping):
        return {str(k): _at(str(k), partial(_param_value, item)) for k, item in value.items()}
    raise WaportError(
        ErrorCode.VALIDATION_FAILED, "parameters are a list (positional) or an object (keys)"
    )


# ----------------------------------------------------------------------------- composite hooks


def _media(value: Any) -> Media:
    data = _object(value)
    for key in data:
        if key not in _MEDIA_KEYS:
            raise WaportError(ErrorCode.VALIDATION_FAILED, f"unknown field {key!r}", key)
    sources = [k for k in ("url", "data", "id") if data.get(k) is not None]
    if len(sources) != 1:
        raise WaportError(ErrorCode.VALIDATION_FAILED, "media needs exactly one of url, data or id")
    key = sources[0]
    raw = _at(key, lambda: _str(data[key]))
    mime_type = (
        _at("mime_type", lambda: _str(data["mime_type"]))
        if data.get("mime_type") is not None
        else None
    )
    source: MediaUrl | MediaData | MediaId
    url: str | None = None
    if key == "url":
        source = MediaUrl(raw)
        url = raw
    elif key == "data":
        uri = parse_data_uri(raw, param="data")
        source = MediaData(uri.mime, uri.data)
        mime_type = mime_type or None
    else:
        source = MediaId(raw)
    if data.get("type") is not None:
        kind_text = _at("type", lambda: _str(data["type"]))
        try:
            kind = MediaKind(kind_text)
        except ValueError:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED, f"type must be one of {', '.join(MediaKind)}", "type"
            ) from None
    else:
        data_mime = source.mime if isinstance(source, MediaData) else None
        kind = infer_kind(mime=mime_type or data_mime, url=url)
    return Media(
        kind=kind,
        source=source,
        caption=_at("caption", lambda: _str(data["caption"]))
        if data.get("caption") is not None
        else None,
        filename=_at("filename", lambda: _str(data["filename"]))
        if data.get("filename") is not None
        else None,
        mime_type=mime_type,
        voice=_at("voice", lambda: _bool(data["voice"])) if "voice" in data else False,
        animated=_at("animated", lambda: _bool(data["animated"])) if "animated" in data else False,
    )


def _text(value: Any, _: Any = None) -> Text:
    if isinstance(value, str):
        return Text(value)
    return _TEXT_FN(_object(value))


def _template_header(value: Any, _: Any = None) -> HeaderText | HeaderMedia:
    data = _object(value)
    kind = data.get("type")
    if kind == "text" or (kind is None and "params" in data):
        extra = sorted(set(data) - {"type", "params"})
        if extra:
            raise WaportError(ErrorCode.VALIDATION_FAILED, f"unknown field {extra[0]!r}", extra[0])
        return HeaderText(params=_at("params", lambda: _params(data.get("params", []))))
    return HeaderMedia(media=_media(data))


def _template(value: Any, _: Any = None) -> TemplateMessage:
    data = dict(_object(value))
    params = (
        _at("params", lambda: _params(data.pop("params"))) if data.get("params") is not None else {}
    )
    header = (
        _at("header", lambda: _template_header(data.pop("header")))
        if data.get("header") is not None
        else None
    )
    data.pop("params", None)
    data.pop("header", None)
    base = _TEMPLATE_FN(data)
    if not params and header is None:  # nothing to add: no second build
        return base
    return attrs.evolve(base, params=params, header=header)


def _interactive_header(
    value: Any, _: Any = None
) -> InteractiveHeaderText | InteractiveHeaderMedia:
    if isinstance(value, str):
        return InteractiveHeaderText(value)
    data = _object(value)
    kind = data.get("type")
    if kind == "text" or (kind is None and not any(k in data for k in ("url", "data", "id"))):
        return _header_text(data)
    return InteractiveHeaderMedia(_media(data))


def _header_text(value: Any, _: Any = None) -> InteractiveHeaderText:
    if isinstance(value, str):
        return InteractiveHeaderText(value)
    data = _object(value)
    if data.get("type", "text") != "text":
        raise WaportError(ErrorCode.VALIDATION_FAILED, "this header must be text", "type")
    extra = sorted(set(data) - {"type", "text"})
    if extra:
        raise WaportError(ErrorCode.VALIDATION_FAILED, f"unknown field {extra[0]!r}", extra[0])
    if "text" not in data:
        raise WaportError(ErrorCode.VALIDATION_FAILED, "is required", "text")
    return InteractiveHeaderText(_at("text", lambda: _str(data["text"])))


def _button(value: Any, _: Any = None) -> ReplyButton | UrlButton | CallButton | CopyButton:
    data = dict(_object(value))
    kind = data.pop("type", "reply")
    cls = BUTTON_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            f"button type must be one of {', '.join(BUTTON_TYPES)}",
            "type",
        )
    result: ReplyButton | UrlButton | CallButton | CopyButton = _CONVERTER.structure(data, cls)
    return result


def _interactive(value: Any, _: Any = None) -> Any:
    data = dict(_object(value))
    kind = data.pop("type", None)
    if kind == "button":
        kind = "buttons"
    cls = INTERACTIVE_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            f"interactive type must be one of {', '.join(INTERACTIVE_TYPES)}",
            "type",
        )
    return _CONVERTER.structure(data, cls)


def _contact_cards(value: Any, _: Any = None) -> ContactCards:
    if not isinstance(value, list):
        raise WaportError(ErrorCode.VALIDATION_FAILED, "contacts is a list of contact cards")
    return ContactCards(
        tuple(
            _at(i, partial(_CONVERTER.structure, item, ContactCard)) for i, item in enumerate(value)
        )
    )


def _checked_object_factory(
    converter: cattrs.Converter,
) -> Callable[[type[Any]], Callable[[Any, Any], Any]]:
    def factory(cls: type[Any]) -> Callable[[Any, Any], Any]:
        generated = make_dict_structure_fn(cls, converter)

        def structure(value: Any, _: Any = None) -> Any:
            if not isinstance(value, Mapping):
                raise TypeError("must be an object")
            return generated(value, cls)

        return structure

    return factory


def make_request_converter() -> cattrs.Converter:
    """The strict converter for waport's REST request bodies."""
    c = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    c.register_structure_hook_factory(attrs.has, _checked_object_factory(c))
    c.register_structure_hook(str, _str)
    c.register_structure_hook(bool, _bool)
    c.register_structure_hook(int, _int)
    c.register_structure_hook(float, _float)
    c.register_structure_hook(datetime, _datetime)
    c.register_structure_hook(Text, _text)
    c.register_structure_hook(Media, lambda v, _: _media(v))
    c.register_structure_hook(TemplateMessage, _template)
    c.register_structure_hook(str | Currency | DateTime, lambda v, _: _param_value(v))
    c.register_structure_hook(HeaderText | HeaderMedia, _template_header)
    c.register_structure_hook(
        HeaderText | HeaderMedia | None, lambda v, t: None if v is None else _template_header(v)
    )
    c.register_structure_hook(InteractiveHeaderText, _header_text)
    c.register_structure_hook(InteractiveHeaderText | InteractiveHeaderMedia, _interactive_header)
    c.register_structure_hook(
        InteractiveHeaderText | InteractiveHeaderMedia | None,
        lambda v, _: None if v is None else _interactive_header(v),
    )
    c.register_structure_hook(ReplyButton | UrlButton | CallButton | CopyButton, _button)
    c.register_structure_hook(ContactCards, _contact_cards)
    scalar_map = Mapping[str, str | int | float | bool | None]
    c.register_structure_hook_func(lambda t: t == scalar_map, _scalar_map)
    return c


_CONVERTER: Final = make_request_converter()
_TEXT_FN: Final = make_dict_structure_fn(Text, _CONVERTER)
_TEMPLATE_FN: Final = make_dict_structure_fn(TemplateMessage, _CONVERTER)
_CONTENT_TYPES: Final[Mapping[str, Callable[[Any], Content]]] = {
    "text": _text,
    "template": _template,
    "media": _media,
    "interactive": _interactive,
    "location": lambda v: _CONVERTER.structure(v, Location),
    "contacts": _contact_cards,
    "reaction": lambda v: _CONVERTER.structure(v, Reaction),
}


# ----------------------------------------------------------------------------- entry points


def _options(body: Mapping[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if body.get("sender_id") is not None:
        options["sender_id"] = _at("sender_id", lambda: _str(body["sender_id"]))
    if body.get("reply_to") is not None:
        options["reply_to"] = _at("reply_to", lambda: _str(body["reply_to"]))
    if body.get("check_window") is not None:
        options["check_window"] = _at("check_window", lambda: _bool(body["check_window"]))
    for key in ("scheduled_at", "expires_at"):
        if body.get(key) is not None:
            options[key] = _at(key, partial(_datetime, body[key]))
    if body.get("webhook_url") is not None:
        options["webhook_url"] = _at("webhook_url", lambda: _str(body["webhook_url"]))
    if body.get("metadata") is not None:
        options["metadata"] = _at("metadata", lambda: _scalar_map(body["metadata"]))
    if body.get("contact") is not None:
        options["contact"] = _at(
            "contact", lambda: _CONVERTER.structure(body["contact"], ContactDetails)
        )
    return options


def _recipient(body: Mapping[str, Any], key: str = "to", param: str = "to") -> Recipient:
    if body.get(key) is None:
        raise WaportError(ErrorCode.VALIDATION_FAILED, "is required", param)
    return parse_recipient(body[key], param=param)


def parse_send_request(body: object) -> OutboundMessage:
    """Parse a ``POST /v1/messages`` body into an ``OutboundMessage``, or raise ``WaportError``.

    Checks exactly one mode (``MODE_REQUIRED`` / ``MODE_CONFLICT`` naming the
    modes), the recipient, every content limit and every option.
    """
    if not isinstance(body, Mapping):
        raise WaportError(ErrorCode.VALIDATION_FAILED, "the request body must be a JSON object")
    present = [mode for mode in MODES if body.get(mode) is not None]
    if not present:
        raise WaportError(
            ErrorCode.MODE_REQUIRED,
            f"a message needs exactly one of {', '.join(MODES)}",
        )
    if len(present) > 1:
        raise WaportError(
            ErrorCode.MODE_CONFLICT,
            f"a message carries exactly one mode; got {', '.join(present)}",
            ",".join(present),
            details=tuple(present),
        )
    for key in body:
        if key in _MISPLACED:
            raise WaportError(ErrorCode.VALIDATION_FAILED, _MISPLACED[key], str(key))
        if key not in SEND_OPTIONS and key not in MODES:
            raise WaportError(ErrorCode.VALIDATION_FAILED, f"unknown field {key!r}", str(key))
    to = _recipient(body)
    mode = present[0]
    content = _at(mode, lambda: _CONTENT_TYPES[mode](body[mode]))
    options = _options(body)
    return OutboundMessage(to=to, content=content, **options)


def parse_broadcast_request(body: object) -> BroadcastRequest:
    """Parse a ``POST /v1/broadcasts`` body; see DESIGN §2 (Broadcast)."""
    if not isinstance(body, Mapping):
        raise WaportError(ErrorCode.VALIDATION_FAILED, "the request body must be a JSON object")
    allowed = {
        "template",
        "sender_id",
        "recipients",
        "scheduled_at",
        "expires_at",
        "webhook_url",
        "metadata",
    }
    for key in body:
        if key not in allowed:
            raise WaportError(ErrorCode.VALIDATION_FAILED, f"unknown field {key!r}", str(key))
    if body.get("template") is None:
        raise WaportError(ErrorCode.VALIDATION_FAILED, "a broadcast needs a template", "template")
    template = _at("template", lambda: _template(body["template"]))
    rows_raw = body.get("recipients")
    if not isinstance(rows_raw, list) or not rows_raw:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            f"recipients is a list of 1 to {BROADCAST.recipients_max} entries",
            "recipients",
        )
    if len(rows_raw) > BROADCAST.recipients_max:
        raise WaportError(
            ErrorCode.TOO_MANY_RECIPIENTS,
            f"a broadcast has at most {BROADCAST.recipients_max} recipients, got {len(rows_raw)}",
            "recipients",
        )
    rows: list[BroadcastRecipient] = []
    for i, raw in enumerate(rows_raw):
        row = _at(f"recipients[{i}]", partial(_broadcast_row, raw))
        rows.append(row)
    options = _options({k: v for k, v in body.items() if k not in ("template", "recipients")})
    return BroadcastRequest(template=template, recipients=tuple(rows), **options)


def _broadcast_row(raw: Any) -> BroadcastRecipient:
    data = _object(raw)
    for key in data:
        if key not in ("to", "template_params", "metadata"):
            raise WaportError(ErrorCode.VALIDATION_FAILED, f"unknown field {key!r}", str(key))
    return BroadcastRecipient(
        to=_recipient(data),
        template_params=_at("template_params", lambda: _params(data["template_params"]))
        if data.get("template_params") is not None
        else {},
        metadata=_at("metadata", lambda: _scalar_map(data["metadata"]))
        if data.get("metadata") is not None
        else {},
    )
