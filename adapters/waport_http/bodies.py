"""Reading requests: JSON bodies (bounded in size and depth), objects of known fields,
query parameters, streamed bodies, and the headers a route reads (Idempotency-Key,
Prefer). Every refusal is a coded ``WaportError`` naming what was wrong."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable
from typing import Any, Final

import aiohttp
from aiohttp import web

from waport.domain.errors import ErrorCode, WaportError

MAX_DEPTH: Final = 32
BODY_TIMEOUT: Final = web.AppKey("waport_body_timeout", float)
"""The longest a request body may pause between two chunks (setting ``body_timeout_seconds``)."""
DEFAULT_BODY_TIMEOUT: Final = 30.0


class ClientGone(Exception):
    """The client hung up before its body arrived whole: nobody is left to answer."""


READ_CHUNK: Final = 64 * 1024


def _no_constant(name: str) -> Any:
    """``NaN`` and ``Infinity`` are not JSON (RFC 8259), though Python's parser takes them."""
    raise ValueError(f"{name} is not a JSON value")


_JSON: Final = json.JSONDecoder(parse_constant=_no_constant)


def _depth_ok(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


_ESCAPED_SURROGATE: Final = re.compile(rb"\\u[dD][89a-fA-F]")


def _lone_surrogate(value: Any, path: str = "") -> str | None:
    """The path of the first string (or key) in ``value`` holding a lone surrogate
    (``"\\ud800"`` unpaired: no UTF-8 can carry it), or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "body"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if _lone_surrogate(key) is not None:
                return path or "body"
            found = _lone_surrogate(item, here)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _lone_surrogate(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def check_text(value: Any, raw: bytes) -> None:
    """Refuse decoded JSON holding a lone surrogate escape. Only an escape can make
    one (``raw`` is valid UTF-8), so a body without one is not walked."""
    if _ESCAPED_SURROGATE.search(raw) is None:
        return
    found = _lone_surrogate(value)
    if found is not None:
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            "a string holds a lone surrogate escape (\\ud800-\\udfff without its pair)",
            found.encode("utf-8", "backslashreplace").decode("ascii"),
        )


def only_known(names: Iterable[Any], known: Collection[str], what: str) -> None:
    for name in names:
        if name not in known:
            raise WaportError(ErrorCode.VALIDATION_FAILED, f"unknown {what} {name!r}", str(name))


def query(request: web.Request, *known: str) -> dict[str, str]:
    """The query parameters, as the body's fields are read: each known and given once."""
    only_known(request.query, known, "query parameter")
    for name in request.query:
        if len(request.query.getall(name)) > 1:
            raise WaportError(ErrorCode.VALIDATION_FAILED, f"give {name} once", name)
    return dict(request.query)


async def read(request: web.Request, limit: int) -> bytes:
    """The whole body, refused with ``PAYLOAD_TOO_LARGE`` as soon as it passes ``limit``
    and with ``REQUEST_TIMEOUT`` when it pauses longer than the app's ``BODY_TIMEOUT``
    between two chunks; ``ClientGone`` when the client hangs up first."""
    if request.content_length is not None and request.content_length > limit:
        raise WaportError(ErrorCode.PAYLOAD_TOO_LARGE, f"the body may be at most {limit} bytes")
    idle = body_timeout(request)
    loop = asyncio.get_running_loop()
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(idle) as pause:
            while chunk := await request.content.read(READ_CHUNK):
                pause.reschedule(loop.time() + idle)
                size += len(chunk)
                if size > limit:
                    raise WaportError(
                        ErrorCode.PAYLOAD_TOO_LARGE, f"the body may be at most {limit} bytes"
                    )
                chunks.append(chunk)
    except TimeoutError:
        raise WaportError(
            ErrorCode.REQUEST_TIMEOUT, f"the body paused for more than {idle:g} s"
        ) from None
    except (ConnectionError, aiohttp.ClientPayloadError) as exc:
        raise ClientGone(str(exc)) from None
    return b"".join(chunks)


async def stream(read: Callable[[], Awaitable[bytes]], idle: float) -> AsyncIterator[bytes]:
    """The chunks ``read()`` answers until an empty one, each within ``idle`` seconds
    (``REQUEST_TIMEOUT`` otherwise); ``ClientGone`` when the client hangs up."""
    while True:
        try:
            async with asyncio.timeout(idle):
                chunk = await read()
        except TimeoutError:
            raise WaportError(
                ErrorCode.REQUEST_TIMEOUT, f"the body paused for more than {idle:g} s"
            ) from None
        except (ConnectionError, aiohttp.ClientPayloadError) as exc:
            raise ClientGone(str(exc)) from None
        if not chunk:
            return
        yield chunk


def body_timeout(request: web.Request) -> float:
    return request.config_dict.get(BODY_TIMEOUT, DEFAULT_BODY_TIMEOUT)


async def read_json(request: web.Request, limit: int, *, optional: bool = False) -> Any:
    if optional and not request.body_exists:
        return {}
    if request.content_type != "application/json":
        raise WaportError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "send the body as application/json")
    raw = await read(request, limit)
    if optional and not raw:  # an empty body is none; whitespace is not JSON
        return {}
    try:
        value = _JSON.decode(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise WaportError(ErrorCode.VALIDATION_FAILED, "the body is not valid UTF-8") from None
    except (ValueError, RecursionError):
        raise WaportError(ErrorCode.VALIDATION_FAILED, "the body is not valid JSON") from None
    if not _depth_ok(value):
        raise WaportError(
            ErrorCode.VALIDATION_FAILED, f"the body nests deeper than {MAX_DEPTH} levels"
        )
    check_text(value, raw)
    return value


async def read_object(
    request: web.Request, limit: int, *fields: str, optional: bool = False
) -> dict[str, Any]:
    """A JSON object body holding only ``fields``."""
    body = await read_json(request, limit, optional=optional)
    if not isinstance(body, dict):
        raise WaportError(ErrorCode.VALIDATION_FAILED, "the body must be a JSON object")
    only_known(body, fields, "field")
    return body


def idempotency_key(raw: str) -> str:
    value = raw.strip()
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):  # noqa: PLR2004 - a quoted sf-string
        value = value[1:-1]
    if not 1 <= len(value) <= 255 or not all(" " <= ch <= "~" for ch in value):  # noqa: PLR2004
        raise WaportError(
            ErrorCode.VALIDATION_FAILED,
            "Idempotency-Key is 1-255 printable ASCII characters",
            "Idempotency-Key",
        )
    return value


def prefers_async(request: web.Request) -> bool:
    """Whether the client sent ``Prefer: respond-async`` (RFC 7240: preferences are
    comma-separated, may carry ``=value`` and ``;`` parameters, names ignore case)."""
    for header in request.headers.getall("Prefer", ()):
        for preference in header.split(","):
            name = preference.split(";", 1)[0].split("=", 1)[0].strip().lower()
            if name == "respond-async":
                return True
    return False
