"""The envelope every response goes through: a request id, coded errors (never a trace),
the rate-limit headers of authenticated routes, metrics and the access log."""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Middleware

from waport import codec
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.ratelimit import RateDecision
from waport.domain.records import ApiKey
from waport.ports import Clock, IdSource
from waport_http.bodies import ClientGone
from waport_http.metrics import Metrics

log = logging.getLogger("waport.http")

REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
KEY_ATTR: Final = web.RequestKey("waport.key", ApiKey)
RATE_ATTR: Final = web.RequestKey("waport.rate", RateDecision)
RID_ATTR: Final = web.RequestKey("waport.request_id", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def dumps(value: Any) -> str:
    return codec.json_bytes(value).decode()


def json_bytes(payload: Mapping[str, Any]) -> bytes:
    return codec.json_bytes(payload)


def ok(payload: Any, *, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, dumps=dumps)


def error_payload(
    err: WaportError, request_id: str, data: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "error",
        "error": {"code": err.code.value, "message": err.message, "param": err.param},
        "correlation_id": request_id,
    }
    if err.details:
        body["error"]["details"] = list(err.details)
    if data is not None:
        body["data"] = data
    return body


def error_response(
    request: web.Request, err: WaportError, data: Mapping[str, Any] | None = None
) -> web.Response:
    response = web.json_response(
        error_payload(err, request.get(RID_ATTR, ""), data), status=err.http_status, dumps=dumps
    )
    if err.retry_after is not None or err.code in (
        ErrorCode.RATE_LIMITED,
        ErrorCode.IDEMPOTENCY_IN_PROGRESS,
    ):
        response.headers["Retry-After"] = str(max(1, math.ceil(err.retry_after or 1)))
    return response


def http_error(exc: web.HTTPException) -> WaportError:
    if exc.status == 404:  # noqa: PLR2004
        return WaportError(ErrorCode.NOT_FOUND, "no such endpoint")
    if exc.status == 405:  # noqa: PLR2004
        return WaportError(
            ErrorCode.METHOD_NOT_ALLOWED, "this endpoint does not accept this method"
        )
    if exc.status == 413:  # noqa: PLR2004
        return WaportError(ErrorCode.PAYLOAD_TOO_LARGE, "the request body is too large")
    if 400 <= exc.status < 500:  # noqa: PLR2004
        return WaportError(ErrorCode.VALIDATION_FAILED, exc.reason or "bad request")
    return WaportError(ErrorCode.INTERNAL, "an unexpected error; report the correlation id")


def rate_headers(headers: Any, decision: RateDecision, now: datetime) -> None:
    remaining = max(0, decision.remaining)
    reset_seconds = max(0, math.ceil(decision.reset_after.total_seconds()))
    headers["X-RateLimit-Limit"] = str(decision.limit)
    headers["X-RateLimit-Remaining"] = str(remaining)
    headers["X-RateLimit-Reset"] = str(math.ceil(now.timestamp()) + reset_seconds)
    headers["RateLimit-Policy"] = f'"default";q={decision.limit};w=60'
    headers["RateLimit"] = f'"default";r={remaining};t={reset_seconds}'


def stamp(request: web.Request, response: web.StreamResponse, clock: Clock) -> None:
    """The headers every answer carries: its request id and the key's rate state."""
    response.headers["X-Request-Id"] = request[RID_ATTR]
    rate = request.get(RATE_ATTR)
    if rate is not None:
        rate_headers(response.headers, rate, clock.now())


def envelope(*, ids: IdSource, clock: Clock, metrics: Metrics, access_log: bool) -> Middleware:
    """The middleware: every answer carries ``X-Request-Id``; every error is the coded
    envelope with its status; an unexpected exception is logged and answered INTERNAL."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        incoming = request.headers.get("X-Request-Id", "")
        request_id = incoming if REQUEST_ID.fullmatch(incoming) else ids.new_id("req")
        request[RID_ATTR] = request_id
        started = time.perf_counter()
        err: WaportError | None = None
        gone = False
        allow = ""
        try:
            response = await handler(request)
        except WaportError as exc:
            err = exc
        except web.HTTPException as exc:
            err = http_error(exc)
            if isinstance(exc, web.HTTPMethodNotAllowed):  # RFC 9110: say what is allowed
                allow = ", ".join(sorted(exc.allowed_methods))
        except ClientGone:
            log.debug("the client left %s %s early", request.method, request.path)
            err = WaportError(ErrorCode.VALIDATION_FAILED, "the request body ended early")
            gone = True
        except (HttpProcessingError, UnicodeDecodeError) as exc:
            # a malformed body that aiohttp's own parsers refused (headers, encodings)
            log.info(
                "malformed request on %s %s: %s", request.method, request.path, type(exc).__name__
            )
            err = WaportError(ErrorCode.VALIDATION_FAILED, "the request body is malformed")
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path)
            err = WaportError(ErrorCode.INTERNAL, "an unexpected error; report the correlation id")
        if err is not None:
            response = error_response(request, err)
            if allow:
                response.headers["Allow"] = allow
            if gone or err.code is ErrorCode.REQUEST_TIMEOUT:
                response.force_close()  # what is left of that body is not read
        if not response.prepared:  # a stream stamped its own headers (``stamp``)
            stamp(request, response, clock)
        resource = request.match_info.route.resource
        route = resource.canonical if resource else "unmatched"
        took = time.perf_counter() - started
        metrics.request(route, request.method, response.status, took)
        if access_log:
            log.info(
                "%s %s %d%s in %.1f ms (%s)",  # "in": the log's number masking leaves it be
                request.method,
                route,
                response.status,
                f" {err.code.value}" if err is not None else "",
                took * 1000,
                request_id,
            )
        return response

    return middleware
