"""The storage shape of waport's records: JSON with a fixed, versioned layout.

Store adapters (SQLite, PostgreSQL, yours) keep records as JSON documents beside
the columns they index. Never pickle.

An outbound message is stored in a shape of its own (version 2: the domain's classes
field by field, each union member tagged ``_t``, marked ``"_v": 2``), not the REST
request: a REST field renamed is never a storage migration. Documents written before
(version 1, the request shape) still read, through the request parser. Media bytes
are never inside a record: the service moves them to the media store first, and a
record keeps a ``MediaStored`` reference (id, digest, size, type).

    CODEC_VERSION = 2
"""

from __future__ import annotations

import base64
import json
import types
import typing
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import cattrs
import orjson
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.strategies import configure_tagged_union

from waport.domain.convert import parse_send_request
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.events import InboundMessage
from waport.domain.messages import (
    Button,
    Content,
    Currency,
    DateTime,
    InteractiveHeader,
    MediaSource,
    MediaStream,
    OutboundMessage,
    ParamValue,
    TemplateHeader,
)
from waport.domain.recipients import Recipient, stored_recipient
from waport.domain.records import (
    ApiKey,
    Contact,
    IdempotencyRecord,
    MessageRecord,
    OutboxEvent,
    Sender,
    StoredResponse,
    Workspace,
)
from waport.domain.status import ErrorDetail, StatusChange
from waport.domain.templates import TemplateSpec

CODEC_VERSION: Final = 2
T = TypeVar("T")


def make_storage_converter(
    *, omit_defaults: bool = True, for_orjson: bool = False
) -> cattrs.Converter:
    """The storage converter. A field whose value is its default is left out of the
    document (a pending text message is 410 bytes instead of 620, cheaper to write,
    fsync and read back) and reads back as that default, so a field's default is part
    of the storage format: never change one, add a field instead. ``omit_defaults=False``
    writes every field, as documents written before this layout are; both read the same.
    ``for_orjson`` leaves UTC datetimes as they are, for :func:`json_bytes` to write
    (what :func:`dumps` uses).
    """
    c = cattrs.Converter(omit_if_default=omit_defaults)
    c.register_unstructure_hook(datetime, _utc_as_is if for_orjson else datetime.isoformat)
    c.register_structure_hook(datetime, _read_datetime)
    c.register_unstructure_hook(Recipient, str)
    c.register_structure_hook(Recipient, lambda v, _: stored_recipient(v))
    c.register_unstructure_hook(bytes, lambda b: base64.b64encode(b).decode("ascii"))
    c.register_structure_hook(bytes, lambda v, _: base64.b64decode(v))
    c.register_unstructure_hook_func(
        lambda t: t is frozenset or getattr(t, "__origin__", None) is frozenset, sorted
    )
    c.register_structure_hook(str | int | float | bool | None, lambda v, _: v)
    _message_hooks(c, omit_defaults=omit_defaults)
    c.register_unstructure_hook(
        InboundMessage,
        make_dict_unstructure_fn(
            InboundMessage, c, _cattrs_omit_if_default=omit_defaults, raw=override(omit=True)
        ),
    )
    # ``str | None`` and the like are written as they are: with cattrs' own identity
    # hook the generated record functions read such fields inline, not through a call
    c.register_unstructure_hook_func(_optional_plain, identity)
    return c


_PARAM_TYPES: Final = {"Currency": Currency, "DateTime": DateTime}


def _message_hooks(c: cattrs.Converter, *, omit_defaults: bool) -> None:
    """Version 2 of a stored outbound message: field by field, unions tagged ``_t``."""

    def unstructure_param(value: ParamValue) -> Any:
        if isinstance(value, str):
            return value
        return {"_t": type(value).__name__, **c.unstructure(value)}

    def structure_param(value: Any, _: object) -> ParamValue:
        if isinstance(value, str):
            return value
        fields = dict(value)
        return c.structure(fields, _PARAM_TYPES[fields.pop("_t")])

    def never_stored(*_: object) -> Any:
        raise WaportError(ErrorCode.INTERNAL, "a MediaStream is sent, never stored")

    # before the unions: their members' hooks are generated when they are configured
    c.register_unstructure_hook(MediaStream, never_stored)
    c.register_structure_hook(MediaStream, never_stored)
    c.register_unstructure_hook_func(lambda t: t == ParamValue, unstructure_param)
    c.register_structure_hook_func(lambda t: t == ParamValue, structure_param)
    for union in (MediaSource, TemplateHeader, InteractiveHeader, Button, Content):
        configure_tagged_union(union, c, tag_generator=lambda cls: cls.__name__, tag_name="_t")
    unstructure = make_dict_unstructure_fn(
        OutboundMessage, c, _cattrs_omit_if_default=omit_defaults
    )
    structure = make_dict_structure_fn(OutboundMessage, c)

    def write(message: OutboundMessage) -> dict[str, Any]:
        return {"_v": MESSAGE_VERSION, **unstructure(message)}

    def read(value: Mapping[str, Any], _: object) -> OutboundMessage:
        if value.get("_v") != MESSAGE_VERSION:  # version 1: the REST request's shape
            return parse_send_request(value)
        return structure({k: v for k, v in value.items() if k != "_v"}, OutboundMessage)

    c.register_unstructure_hook(OutboundMessage, write)
    c.register_structure_hook(OutboundMessage, read)


MESSAGE_VERSION: Final = 2
_PLAIN: Final = (str, int, float, bool, type(None))


def _utc_as_is(when: datetime) -> datetime | str:
    """A UTC datetime as it is: orjson writes it exactly as ``isoformat()`` does, about
    five times faster (a stored message has four or five). Any other offset as
    ``isoformat()``, because orjson drops the seconds of an offset like +00:25:21."""
    return when if when.tzinfo is UTC else when.isoformat()


def _read_datetime(value: Any, _: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON data")


def _optional_plain(kind: Any) -> bool:
    """``str | None``, ``int | None`` and the like (values JSON writes as they are)."""
    args = typing.get_args(kind)
    return (
        typing.get_origin(kind) in (types.UnionType, typing.Union)
        and type(None) in args
        and all(a in _PLAIN for a in args)
    )


_C: Final = make_storage_converter()
_WRITE: Final = make_storage_converter(for_orjson=True)


def json_bytes(value: Any, *, sort_keys: bool = False) -> bytes:
    """Plain JSON data (and UTC datetimes, written as ``isoformat()`` does) as compact UTF-8
    JSON (orjson; about ten times the standard library's speed on waport's records, and
    every send writes several).

    orjson refuses integers beyond 64 bits, which JSON itself allows and a caller's
    ``metadata`` may hold: those values take the standard library's path instead, so
    nothing a request carried is refused or rounded here. A non-finite float (messages
    refuse one in their metadata; a library caller may still pass one elsewhere) is
    written as ``null``, as JSON has no spelling for it.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
    except TypeError:
        text = json.dumps(
            value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, default=_iso
        )
        return text.encode()


def dumps(value: Any) -> str:
    """A record (or part of one) as compact JSON."""
    return json_bytes(_WRITE.unstructure(value)).decode()


def loads(text: str | bytes, kind: type[T]) -> T:
    return _C.structure(json.loads(text), kind)


# ----------------------------------------------------------------------------- message rows

MESSAGE_HOT: Final = (
    "status",
    "history",
    "provider",
    "provider_message_id",
    "due_at",
    "attempting_since",
    "attempts",
    "error",
)
"""The fields of a stored message that change after it is written. The SQL stores keep
them in columns (the history as text appended to, see :func:`dumps_history`); the
document (:func:`dumps_message_body`) holds the rest and is written once."""


_HOT_LEFT_OUT: Final[dict[str, Any]] = {name: override(omit=True) for name in MESSAGE_HOT}
_BODY: Final = make_dict_unstructure_fn(
    MessageRecord, _WRITE, _cattrs_omit_if_default=True, **_HOT_LEFT_OUT
)
"""The storage converter's function for a message without its hot fields, generated
once: they are never unstructured only to be dropped (a status history is the dearest
part of a record to unstructure)."""


def dumps_message_body(record: MessageRecord) -> str:
    """A message's document without its ``MESSAGE_HOT`` fields."""
    return json_bytes(_BODY(record)).decode()


def dumps_history(changes: Iterable[StatusChange]) -> str:
    """Status changes as the text appended to a stored history: each a JSON object and a
    comma, so appending is concatenation and the whole reads as ``[text[:-1]]``."""
    return "".join(f"{json_bytes(_WRITE.unstructure(c)).decode()}," for c in changes)


def load_message(
    body: str,
    *,
    status: str,
    history: str,
    provider: str | None,
    provider_message_id: str | None,
    due_at: datetime | None,
    attempting_since: datetime | None,
    attempts: int,
    error: str | None,
) -> MessageRecord:
    """A message from its document and its hot columns."""
    data = json.loads(body)
    data.update(
        status=status,
        history=orjson.loads(f"[{history[:-1]}]"),
        provider=provider,
        provider_message_id=provider_message_id,
        due_at=due_at,
        attempting_since=attempting_since,
        attempts=attempts,
        error=None if error is None else orjson.loads(error),
    )
    return _C.structure(data, MessageRecord)


def unstructure(value: Any) -> Any:
    return _C.unstructure(value)


def structure(data: Any, kind: type[T]) -> T:
    return _C.structure(data, kind)


__all__ = [
    "CODEC_VERSION",
    "ApiKey",
    "Contact",
    "ErrorDetail",
    "IdempotencyRecord",
    "InboundMessage",
    "MessageRecord",
    "OutboxEvent",
    "Sender",
    "StatusChange",
    "StoredResponse",
    "TemplateSpec",
    "Workspace",
    "MESSAGE_HOT",
    "dumps",
    "dumps_history",
    "dumps_message_body",
    "load_message",
    "loads",
    "make_storage_converter",
    "structure",
    "unstructure",
]
