"""The aiohttp application: the REST API of DESIGN §5.

Every response carries ``X-Request-Id``; every error is
``{"status":"error","error":{"code","message","param"},"correlation_id"}`` with the
code's HTTP status; a 500 is a bug and never shows a trace. Authenticated routes
carry the rate-limit headers, successes included.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import aiohttp
import anyio
import attrs
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from waport import codec
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.limits import MEDIA_LIMITS, MediaKind
from waport.domain.media import kind_from_mime
from waport.domain.ratelimit import RateDecision, RateLimit
from waport.domain.recipients import parse_recipient
from waport.domain.records import SCOPES, ApiKey, StoredResponse
from waport.ports import Provider, SandboxControl, Store
from waport.service import IdempotencyClaim, Messenger
from waport.service.messenger import BroadcastResult
from waport_http import auth
from waport_http.metrics import Metrics
from waport_http.openapi import openapi_document
from waport_http.relay import WebhookRelay
from waport_http.views import (
    broadcast_view,
    key_view,
    message_view,
    send_envelope,
    template_view,
    window_view,
)

log = logging.getLogger("waport.http")

REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
MAX_DEPTH: Final = 32
READ_CHUNK: Final = 64 * 1024
KEY_ATTR: Final = web.RequestKey("waport.key", ApiKey)
RATE_ATTR: Final = web.RequestKey("waport.rate", RateDecision)
RID_ATTR: Final = web.RequestKey("waport.request_id", str)
NON_RETRYABLE_REPLAY: Final = frozenset({500})
PROVIDER_CHECK_PERIOD: Final = timedelta(seconds=10)
"""How long ``/healthz`` reuses the provider's last answer: a probe every second must
not become a request to Meta every second."""
HEALTH_TIMEOUT: Final = 5.0


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


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


def _no_constant(name: str) -> Any:
    """``NaN`` and ``Infinity`` are not JSON (RFC 8259), though Python's parser takes them."""
    raise ValueError(f"{name} is not a JSON value")


_JSON: Final = json.JSONDecoder(parse_constant=_no_constant)


def _only_known(names: Iterable[Any], known: Collection[str], what: str) -> None:
    for name in names:
        if name not in known:
            raise WaportError(ErrorCode.VALIDATION_FAILED, f"unknown {what} {name!r}", str(name))


def _query(request: web.Request, *known: str) -> dict[str, str]:
    """The query parameters, as the body's fields are read: each known and given once."""
    _only_known(request.query, known, "query parameter")
    for name in request.query:
        if len(request.query.getall(name)) > 1:
            raise WaportError(ErrorCode.VALIDATION_FAILED, f"give {name} once", name)
    return dict(request.query)


def _json_bytes(payload: Mapping[str, Any]) -> bytes:
    return codec.json_bytes(payload)


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


@attrs.define
class Gateway:
    """Everything a request needs, owned by the composition root (``open_gateway``)."""

    messenger: Messenger
    store: Store
    provider: Provider
    relay: WebhookRelay
    pepper: str | None = attrs.field(default=None, repr=False)
    rate_limit_per_minute: int = 60
    max_body_bytes: int = 1024 * 1024
    max_message_bytes: int = 23 * 1024 * 1024
    max_upload_bytes: int = 100 * 1024 * 1024
    max_webhook_bytes: int = 4 * 1024 * 1024
    access_log: bool = False
    metrics: Metrics = attrs.Factory(Metrics)
    on_ingest: Callable[[], None] | None = None
    _provider_verdict: tuple[datetime, str] | None = attrs.field(default=None, init=False)
    _provider_checking: anyio.Lock = attrs.field(factory=anyio.Lock, init=False)

    @property
    def clock(self) -> Any:
        return self.messenger.clock

    # ------------------------------------------------------------------ application

    def app(self) -> web.Application:
        application = web.Application(
            middlewares=[self._envelope], client_max_size=self.max_upload_bytes + 1024 * 1024
        )
        r = application.router
        r.add_post("/v1/messages", self.post_message)
        r.add_get("/v1/messages/{message_id}", self.get_message)
        r.add_post("/v1/messages/{message_id}/read", self.mark_read)
        r.add_get("/v1/window-status", self.window_status)
        r.add_post("/v1/broadcasts", self.post_broadcast)
        r.add_get("/v1/broadcasts/{broadcast_id}", self.get_broadcast)
        r.add_get("/v1/templates", self.get_templates)
        r.add_post("/v1/templates/sync", self.sync_templates)
        r.add_post("/v1/keys", self.create_key)
        r.add_get("/v1/keys", self.list_keys)
        r.add_delete("/v1/keys/{key_id}", self.revoke_key)
        r.add_post("/v1/sandbox/inbound", self.sandbox_inbound)
        r.add_post("/v1/sandbox/script", self.sandbox_script)
        r.add_get("/webhooks/{provider}", self.webhook_handshake)
        r.add_post("/webhooks/{provider}", self.webhook_events)
        r.add_get("/openapi.json", self.openapi)
        r.add_get("/livez", self.livez)
        r.add_get("/healthz", self.healthz)
        r.add_get("/metrics", self.metrics_text)
        return application

    # ------------------------------------------------------------------ middleware

    @web.middleware
    async def _envelope(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        incoming = request.headers.get("X-Request-Id", "")
        request_id = (
            incoming if REQUEST_ID.fullmatch(incoming) else self.messenger.ids.new_id("req")
        )
        request[RID_ATTR] = request_id
        started = time.perf_counter() if self.access_log else 0.0
        err: WaportError | None = None
        try:
            response = await handler(request)
        except WaportError as exc:
            err = exc
        except web.HTTPException as exc:
            err = _http_error(exc)
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
            response = self._error(request, err)
        response.headers["X-Request-Id"] = request_id
        rate = request.get(RATE_ATTR)
        if rate is not None:
            _rate_headers(response.headers, rate, self.clock.now())
        route = (
            request.match_info.route.resource.canonical
            if request.match_info.route.resource
            else "unmatched"
        )
        self.metrics.inc(
            "waport_http_requests_total",
            "HTTP requests by route and status",
            route=route,
            method=request.method,
            status=str(response.status),
        )
        if self.access_log:
            log.info(
                "%s %s %d%s in %.1f ms (%s)",  # "in": the log's number masking leaves it be
                request.method,
                route,
                response.status,
                f" {err.code.value}" if err is not None else "",
                (time.perf_counter() - started) * 1000,
                request_id,
            )
        return response

    def _error(
        self, request: web.Request, err: WaportError, data: Mapping[str, Any] | None = None
    ) -> web.Response:
        response = web.json_response(
            error_payload(err, request.get(RID_ATTR, ""), data),
            status=err.http_status,
            dumps=_dumps,
        )
        if err.retry_after is not None or err.code in (
            ErrorCode.RATE_LIMITED,
            ErrorCode.IDEMPOTENCY_IN_PROGRESS,
        ):
            response.headers["Retry-After"] = str(max(1, math.ceil(err.retry_after or 1)))
        return response

    # ------------------------------------------------------------------ auth, rate limits, bodies

    async def authenticate(self, request: web.Request, scope: str) -> ApiKey:
        presented = auth.from_headers(
            request.headers.get("Authorization"), request.headers.get("X-Api-Key")
        )
        key_id = auth.parse(presented)
        record = await self.messenger.cached(
            "api_key", key_id, lambda: self.store.api_keys.get(key_id)
        )
        key = auth.verify(presented or "", record, self.pepper)
        limit = key.rate_per_minute or self.rate_limit_per_minute
        decision = await self.store.rate_limits.hit(
            f"key:{key.id}", RateLimit(limit, timedelta(minutes=1)), now=self.clock.now()
        )
        request[RATE_ATTR] = decision
        request[KEY_ATTR] = key
        if not decision.allowed:
            raise WaportError(
                ErrorCode.RATE_LIMITED,
                f"this key may make {limit} requests per minute",
                retry_after=decision.retry_after.total_seconds(),
            )
        if not key.allows(scope):
            raise WaportError(ErrorCode.INSUFFICIENT_SCOPE, f"this API key lacks the {scope} scope")
        return key

    @staticmethod
    def check_sender(key: ApiKey, sender_id: str | None, param: str) -> None:
        """A key limited to some senders may name only those (403 otherwise)."""
        if sender_id is not None and not key.may_use(sender_id):
            raise WaportError(ErrorCode.FORBIDDEN, "this API key may not use this sender", param)

    async def _read(self, request: web.Request, limit: int) -> bytes:
        if request.content_length is not None and request.content_length > limit:
            raise WaportError(ErrorCode.PAYLOAD_TOO_LARGE, f"the body may be at most {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(READ_CHUNK):
            size += len(chunk)
            if size > limit:
                raise WaportError(
                    ErrorCode.PAYLOAD_TOO_LARGE, f"the body may be at most {limit} bytes"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def read_json(self, request: web.Request, limit: int, *, optional: bool = False) -> Any:
        if optional and not request.body_exists:
            return {}
        if request.content_type != "application/json":
            raise WaportError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "send the body as application/json")
        raw = await self._read(request, limit)
        if optional and not raw.strip():
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
        return value

    async def read_object(
        self, request: web.Request, *fields: str, optional: bool = False
    ) -> dict[str, Any]:
        """A JSON object body (``max_body_bytes``) holding only ``fields``."""
        body = await self.read_json(request, self.max_body_bytes, optional=optional)
        if not isinstance(body, dict):
            raise WaportError(ErrorCode.VALIDATION_FAILED, "the body must be a JSON object")
        _only_known(body, fields, "field")
        return body

    async def read_multipart(self, request: web.Request) -> dict[str, Any]:
        """A send as multipart/form-data: fields as in the JSON body (``metadata``,
        ``contact``, ``template`` as JSON strings), plus ``file`` (direct media) or
        ``header_file`` (a template's header media). Each file is refused as soon as it
        passes its kind's size limit, before the rest of the body is read."""
        if request.content_length is not None and request.content_length > self.max_upload_bytes:
            raise WaportError(
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"the body may be at most {self.max_upload_bytes} bytes",
            )
        reader = await request.multipart()
        fields: dict[str, str] = {}
        files: dict[str, tuple[str, str | None, bytes]] = {}
        while (part := await reader.next()) is not None:
            if not isinstance(part, aiohttp.BodyPartReader) or not part.name:
                raise WaportError(ErrorCode.VALIDATION_FAILED, "every part needs a name")
            if part.name in ("file", "header_file"):
                mime = part.headers.get(aiohttp.hdrs.CONTENT_TYPE, "application/octet-stream")
                kind_text = fields.get("type") if part.name == "file" else None
                kind = MediaKind(kind_text) if kind_text in set(MediaKind) else kind_from_mime(mime)
                limit = MEDIA_LIMITS[kind].max_bytes_animated or MEDIA_LIMITS[kind].max_bytes
                data = bytearray()
                while chunk := await part.read_chunk(READ_CHUNK):
                    data.extend(chunk)
                    if len(data) > limit:
                        raise WaportError(
                            ErrorCode.MEDIA_TOO_LARGE,
                            f"{kind} media may be at most {limit} bytes",
                            part.name,
                        )
                files[part.name] = (mime, part.filename, bytes(data))
            else:
                value = await part.read(decode=True)
                if len(value) > self.max_body_bytes:
                    raise WaportError(
                        ErrorCode.PAYLOAD_TOO_LARGE, "a form field is too large", part.name
                    )
                try:
                    fields[part.name] = value.decode("utf-8")
                except UnicodeDecodeError:
                    raise WaportError(
                        ErrorCode.VALIDATION_FAILED, "form fields are UTF-8 text", part.name
                    ) from None
        return _form_to_body(fields, files)

    async def _body_for_send(self, request: web.Request) -> Any:
        if request.content_type == "multipart/form-data":
            try:
                return await self.read_multipart(request)
            except ValueError as exc:  # aiohttp's multipart parser refusing the body
                raise WaportError(
                    ErrorCode.VALIDATION_FAILED, f"the multipart body is malformed: {exc}"
                ) from None
        return await self.read_json(request, self.max_message_bytes)

    # ------------------------------------------------------------------ idempotency

    async def idempotent(
        self,
        request: web.Request,
        key: ApiKey,
        route: str,
        body: Any,
        run: Callable[[IdempotencyClaim | None], Awaitable[tuple[int, dict[str, Any]]]],
    ) -> web.Response:
        raw = request.headers.get("Idempotency-Key")
        if raw is None:
            status, payload = await self._run(request, run, None)
            return web.Response(
                status=status, body=_json_bytes(payload), content_type="application/json"
            )
        idem = _idempotency_key(raw)
        scope = f"{key.workspace_id}:{key.id}"
        fingerprint = hashlib.sha256(route.encode() + b"\n" + canonical_json(body)).hexdigest()
        claim = IdempotencyClaim(scope=scope, key=idem, fingerprint=fingerprint)
        replay = await self._replay(request, claim)
        if replay is not None:
            return replay
        try:
            status, payload = await self._run(request, run, claim)
        except WaportError as err:
            if err.code != ErrorCode.IDEMPOTENCY_IN_PROGRESS:
                raise
            replay = await self._replay(request, claim)
            if replay is not None:
                return replay
            raise
        body_bytes = _json_bytes(payload)
        if status not in NON_RETRYABLE_REPLAY:
            with anyio.CancelScope(shield=True):
                await self.store.idempotency.complete(
                    scope, idem, StoredResponse(status=status, body=body_bytes)
                )
        return web.Response(status=status, body=body_bytes, content_type="application/json")

    async def _run(
        self,
        request: web.Request,
        run: Callable[[IdempotencyClaim | None], Awaitable[tuple[int, dict[str, Any]]]],
        claim: IdempotencyClaim | None,
    ) -> tuple[int, dict[str, Any]]:
        return await run(claim)

    async def _replay(self, request: web.Request, claim: IdempotencyClaim) -> web.Response | None:
        now = self.clock.now()
        record = await self.store.idempotency.get(claim.scope, claim.key, now=now)
        if record is None:
            return None
        if record.fingerprint != claim.fingerprint:
            raise WaportError(
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
                "this Idempotency-Key was used with another request body",
                "Idempotency-Key",
            )
        if record.response is not None:
            response = web.Response(
                status=record.response.status,
                body=record.response.body,
                content_type=record.response.content_type,
            )
            response.headers["Idempotent-Replayed"] = "true"
            return response
        if record.locked_until > now:
            raise WaportError(
                ErrorCode.IDEMPOTENCY_IN_PROGRESS,
                "a request with this Idempotency-Key is still running",
                "Idempotency-Key",
                retry_after=(record.locked_until - now).total_seconds(),
            )
        # the first request's process died after storing its rows: answer from them
        rows = [await self.store.messages.get(mid) for mid in record.message_ids]
        found = [row for row in rows if row is not None]
        if found and found[0].broadcast_id is not None:  # the same shape as the first answer
            result = BroadcastResult(broadcast_id=found[0].broadcast_id, rows=tuple(found))
            status = 207 if result.summary.failed else 200
            payload = {
                "status": "partial" if result.summary.failed else "ok",
                "data": broadcast_view(result),
            }
        elif len(found) == 1:
            status, payload = send_envelope(found[0])
        else:
            payload = {"status": "pending", "data": {"message_ids": [row.id for row in found]}}
            status = 202
        body = _json_bytes(payload)
        await self.store.idempotency.complete(
            claim.scope, claim.key, StoredResponse(status=status, body=body)
        )
        response = web.Response(status=status, body=body, content_type="application/json")
        response.headers["Idempotent-Replayed"] = "true"
        return response

    # ------------------------------------------------------------------ messages

    async def post_message(self, request: web.Request) -> web.Response:
        key = await self.authenticate(request, "messages:send")
        body = await self._body_for_send(request)
        queue_only = _prefers_async(request)

        async def run(claim: IdempotencyClaim | None) -> tuple[int, dict[str, Any]]:
            result = await self.messenger.send(
                body,
                workspace_id=key.workspace_id,
                idempotency=claim,
                allowed_senders=key.senders,
                attempt=False if queue_only else None,
            )
            record = result.message
            self.metrics.inc(
                "waport_messages_accepted_total",
                "Messages accepted",
                mode=record.message.mode if record.message else "?",
            )
            if record.status.terminal and record.error is not None:
                code = (
                    ErrorCode(record.error.code)
                    if record.error.code in ErrorCode.__members__
                    else ErrorCode.PROVIDER_REJECTED
                )
                err = WaportError(code, record.error.message)
                return err.http_status, error_payload(err, request[RID_ATTR], message_view(record))
            return send_envelope(record)

        response = await self.idempotent(request, key, "POST /v1/messages", body, run)
        _note_preference(response, queue_only)
        return response

    async def get_message(self, request: web.Request) -> web.Response:
        key = await self.authenticate(request, "messages:read")
        record = await self.messenger.get_message(
            request.match_info["message_id"], workspace_id=key.workspace_id
        )
        if not key.may_use(record.sender_id):
            raise WaportError(ErrorCode.MESSAGE_NOT_FOUND, "no such message", "message_id")
        return _ok({"status": "ok", "data": message_view(record, history=True)})

    async def mark_read(self, request: web.Request) -> web.Response:
        key = await self.authenticate(request, "messages:send")
        body = await self.read_json(request, self.max_body_bytes, optional=True)
        typing = isinstance(body, dict) and body.get("typing") is True
        if key.senders is not None:
            target = await self.store.messages.get(request.match_info["message_id"])
            if target is not None and target.workspace_id == key.workspace_id:
                self.check_sender(key, target.sender_id, "message_id")
        record = await self.messenger.mark_read(
            request.match_info["message_id"], workspace_id=key.workspace_id, typing=typing
        )
        return _ok({"status": "ok", "data": message_view(record)})

    async def window_status(self, request: web.Request) -> web.Response:
        key = await self.authenticate(request, "messages:read")
        query = _query(request, "to", "from")
        to = query.get("to")
        if not to:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED, "the to query parameter is required", "to"
            )
        sender = query.get("from") or None
        self.check_sender(key, sender, "from")
        answer = await self.messenger.window_status(
            parse_recipient(to), sender_id=sender, workspace_id=key.workspace_id
        )
        return _ok({"status": "ok", "data": window_view(answer)})

    # ------------------------------------------------------------------ broadcasts

    async def post_broadcast(self, request: web.Request) -> web.Response:
        key = await self.authenticate(request, "broadcasts:send")
        body = await self.read_json(request, self.max_body_bytes)
        queue_only = _prefers_async(request)

        async def run(claim: IdempotencyClaim | None) -> tuple[int, dict[str, Any]]:
            result = await self.messenger.broadcast(
                body,
                workspace_id=key.workspace_id,
                idempotency=claim,
                allowed_senders=key.senders,
                attempt=False if queue_only else None,
            )
            view = broadcast_view(result)
            if result.summary.failed:
                return 207, {"status": "partial", "data": view}
            if queue_only:
                return 202, {"status": "pending", "data": view}
            return 200, {"status": "ok", "data": view}

        response = await self.idempotent(request, key, "POST /v1/broadcasts", body, run)
        _note_preference(response, queue_only)
        return response

    async def get_broadcast(self, request: web.Request) -> web.Response:
        key = await self.authenticate(request, "messages:read")
        result = await self.messenger.get_broadcast(
            request.match_info["broadcast_id"], workspace_id=key.workspace_id
        )
        if not all(key.may_use(row.sender_id) for row in result.rows):
            raise WaportError(ErrorCode.BROADCAST_NOT_FOUND, "no such broadcast", "broadcast_id")
        return _ok({"status": "ok", "data": broadcast_view(result)})

    # ------------------------------------------------------------------ templates

    async def get_templates(self, request: web.Request) -> web.Response:
        key = await self.authenticate(request, "templates:read")
        sender = _query(request, "sender_id").get("sender_id") or None
        self.check_sender(key, sender, "sender_id")
        specs = await self.messenger.list_templates(workspace_id=key.workspace_id, sender_id=sender)
        visible = [s for s in specs if key.may_use(s.sender_id)]
        return _ok({"status": "ok", "data": [template_view(s) for s in visible]})

    async def sync_templates(self, request: web.Request) -> web.Response:
        key = await self.authenticate(request, "templates:write")
        body = await self.read_object(request, "sender_id", optional=True)
        sender = body.get("sender_id")
        if sender is not None and not isinstance(sender, str):
            raise WaportError(
                ErrorCode.VALIDATION_FAILED, "sender_id must be a string", "sender_id"
            )
        self.check_sender(key, sender or None, "sender_id")
        senders = (
            [sender]
            if sender
            else [
                s.id
                for s in await self.store.workspaces.senders(key.workspace_id)
                if key.may_use(s.id)
            ]
        )
        synced = {}
        for sender_id in senders:
            synced[sender_id] = await self.messenger.sync_templates(
                sender_id=sender_id, workspace_id=key.workspace_id
            )
        return _ok({"status": "ok", "data": {"synced": synced}})

    # ------------------------------------------------------------------ keys

    async def create_key(self, request: web.Request) -> web.Response:
        key = await self.authenticate(request, "admin")
        body = await self.read_object(request, "scopes", "senders", "label", "rate_per_minute")
        scopes = body.get("scopes")
        if (
            not isinstance(scopes, list)
            or not scopes
            or not all(isinstance(s, str) and s in SCOPES for s in scopes)
        ):
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                f"scopes is a non-empty list of {', '.join(sorted(SCOPES))}",
                "scopes",
            )
        senders = body.get("senders")
        if senders is not None and (
            not isinstance(senders, list) or not all(isinstance(s, str) for s in senders)
        ):
            raise WaportError(
                ErrorCode.VALIDATION_FAILED, "senders is a list of sender ids", "senders"
            )
        rate = body.get("rate_per_minute")
        if rate is not None and (
            isinstance(rate, bool)
            or not isinstance(rate, int)
            or not 1 <= rate <= auth.MAX_RATE_PER_MINUTE
        ):
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                f"rate_per_minute is an integer from 1 to {auth.MAX_RATE_PER_MINUTE}",
                "rate_per_minute",
            )
        label = body.get("label", "")
        if not isinstance(label, str) or len(label) > 200:  # noqa: PLR2004 - label length
            raise WaportError(
                ErrorCode.VALIDATION_FAILED, "label is a string of at most 200 characters", "label"
            )
        if not key.covers(frozenset(senders) if senders is not None else None):
            raise WaportError(
                ErrorCode.FORBIDDEN,
                "a key limited to some senders may create keys only for those senders",
                "senders",
            )
        new = auth.issue(
            workspace_id=key.workspace_id,
            scopes=frozenset(scopes),
            now=self.clock.now(),
            pepper=self.pepper,
            senders=frozenset(senders) if senders is not None else None,
            rate_per_minute=rate,
            label=label,
        )
        await self.store.api_keys.add(new.record)
        return _ok(
            {"status": "ok", "data": {**key_view(new.record), "key": new.secret}}, status=201
        )

    async def list_keys(self, request: web.Request) -> web.Response:
        key = await self.authenticate(request, "admin")
        return _ok(
            {
                "status": "ok",
                "data": [
                    key_view(k)
                    for k in await self.store.api_keys.list(key.workspace_id)
                    if key.covers(k.senders)
                ],
            }
        )

    async def revoke_key(self, request: web.Request) -> web.Response:
        key = await self.authenticate(request, "admin")
        target = await self.store.api_keys.get(request.match_info["key_id"])
        if target is None or target.workspace_id != key.workspace_id:
            raise WaportError(ErrorCode.NOT_FOUND, "no such API key", "key_id")
        if not key.covers(target.senders):
            raise WaportError(
                ErrorCode.FORBIDDEN,
                "a key limited to some senders may revoke keys only within those senders",
                "key_id",
            )
        await self.store.api_keys.revoke(target.id, at=self.clock.now())
        self.messenger.invalidate()
        revoked = await self.store.api_keys.get(target.id)
        return _ok({"status": "ok", "data": key_view(revoked or target)})

    # ------------------------------------------------------------------ sandbox control

    async def _sandbox_request(
        self, request: web.Request, fields: tuple[str, ...]
    ) -> tuple[SandboxControl, dict[str, Any]]:
        """The sandbox's controls and a control request's body (an object of ``fields``)."""
        control = self.provider.sandbox
        if control is None:
            raise WaportError(
                ErrorCode.NOT_FOUND,
                "the sandbox endpoints exist only when the provider is the sandbox",
            )
        return control, await self.read_object(request, *fields)

    async def sandbox_inbound(self, request: web.Request) -> web.Response:
        key = await self.authenticate(request, "messages:send")
        control, body = await self._sandbox_request(request, ("from", "to_sender", "text"))
        contact = parse_recipient(body.get("from"), param="from")
        senders = [
            s.id for s in await self.store.workspaces.senders(key.workspace_id) if key.may_use(s.id)
        ]
        named = body.get("to_sender")
        self.check_sender(key, named if isinstance(named, str) else None, "to_sender")
        sender = named or (senders[0] if senders else None)
        if not isinstance(sender, str) or sender not in senders:
            raise WaportError(
                ErrorCode.SENDER_NOT_FOUND, "no such sender in the workspace", "to_sender"
            )
        text = body.get("text", "")
        if not isinstance(text, str) or not 1 <= len(text) <= 4096:  # noqa: PLR2004 - a text body
            raise WaportError(ErrorCode.VALIDATION_FAILED, "text is 1-4096 characters", "text")
        event = control.inbound(contact=contact, sender_id=sender, text=text, at=self.clock.now())
        await self.messenger.ingest([event])
        self._ingested()
        record = await self.store.messages.find_by_provider_id(
            event.provider, event.provider_message_id
        )
        return _ok({"status": "ok", "data": message_view(record) if record else {}})

    async def sandbox_script(self, request: web.Request) -> web.Response:
        await self.authenticate(request, "messages:send")
        control, body = await self._sandbox_request(
            request, ("to", "fail_with", "delay_ms", "retry_after", "times")
        )
        to = parse_recipient(body["to"]) if body.get("to") is not None else None
        fail_with = body.get("fail_with")
        if fail_with is not None and fail_with not in ErrorCode.__members__:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED,
                "fail_with is an error code from the catalogue",
                "fail_with",
            )
        numbers = {}
        for name, low, top, kinds in (
            ("delay_ms", 0, 600_000, (int, float)),
            ("retry_after", 0, 86_400, (int, float)),
            ("times", 1, 10_000, (int,)),
        ):
            value = body.get(name, low)
            if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= top:
                what = "an integer" if kinds == (int,) else "a number"
                raise WaportError(
                    ErrorCode.VALIDATION_FAILED, f"{name} is {what} from {low} to {top}", name
                )
            numbers[name] = value
        if fail_with is None and not numbers["delay_ms"]:
            raise WaportError(
                ErrorCode.VALIDATION_FAILED, "script a failure (fail_with) or a delay (delay_ms)"
            )
        control.script(
            to=to,
            fail_with=ErrorCode(fail_with) if fail_with else None,
            delay_ms=int(numbers["delay_ms"]),
            retry_after=float(numbers["retry_after"]) or None,
            times=int(numbers["times"]),
        )
        return _ok({"status": "ok", "data": {"scripted": True}})

    # ------------------------------------------------------------------ inbound webhooks

    def _provider_for(self, request: web.Request) -> Provider:
        if request.match_info["provider"] != self.provider.name:
            raise WaportError(
                ErrorCode.NOT_FOUND, f"this gateway runs the {self.provider.name} provider"
            )
        return self.provider

    async def webhook_handshake(self, request: web.Request) -> web.Response:
        provider = self._provider_for(request)
        challenge = provider.verify_subscription(dict(request.query))
        return web.Response(text=challenge, content_type="text/plain")

    async def webhook_events(self, request: web.Request) -> web.Response:
        provider = self._provider_for(request)
        raw = await self._read(request, self.max_webhook_bytes)
        events = provider.parse_webhook(dict(request.headers), raw)
        report = await self.messenger.ingest(events)
        self._ingested()
        self.metrics.inc(
            "waport_webhook_events_total",
            "Provider events received",
            provider=provider.name,
            amount=len(events),
        )
        return _ok({"status": "ok", "data": attrs.asdict(report)})

    def _ingested(self) -> None:
        self.relay.wake()
        if self.on_ingest is not None:
            self.on_ingest()

    # ------------------------------------------------------------------ operations

    async def openapi(self, request: web.Request) -> web.Response:
        return _ok(openapi_document())

    async def livez(self, request: web.Request) -> web.Response:
        """Liveness: the process answers. Asks nothing of the store or the provider, so
        that a provider's outage (which a restart cannot mend) never restarts a gateway
        that is still accepting and queueing messages."""
        return _ok({"status": "ok", "data": {}})

    async def healthz(self, request: web.Request) -> web.Response:
        """Readiness: the store answers now, and the provider did at its last check
        (at most ``PROVIDER_CHECK_PERIOD`` ago; probes arriving together share one)."""
        checks = {
            "store": await _verdict(self.store.workspaces.list),
            "provider": await self._provider_health(),
        }
        healthy = all(v == "ok" for v in checks.values())
        return _ok(
            {"status": "ok" if healthy else "error", "data": checks}, status=200 if healthy else 503
        )

    async def _provider_health(self) -> str:
        async with self._provider_checking:
            last = self._provider_verdict
            # (a clock set back makes the age negative: ask again rather than trust it)
            if (
                last is not None
                and timedelta(0) <= self.clock.now() - last[0] < PROVIDER_CHECK_PERIOD
            ):
                return last[1]
            verdict = await _verdict(self.provider.ping)
            self._provider_verdict = (self.clock.now(), verdict)
            return verdict

    async def metrics_text(self, request: web.Request) -> web.Response:
        counts = await self.store.messages.counts()
        pending = await self.store.outbox.pending_count()
        gauges: dict[str, tuple[str, Mapping[tuple[tuple[str, str], ...], float]]] = {
            "waport_messages": (
                "Stored messages by status",
                {(("status", k),): float(v) for k, v in counts.items()},
            ),
            "waport_outbox_pending": (
                "Outbound webhook events waiting for delivery",
                {(): float(pending)},
            ),
            "waport_webhooks_delivered": (
                "Outbound webhook deliveries since start",
                {(): float(self.relay.delivered_total)},
            ),
            "waport_webhooks_failed": (
                "Outbound webhook delivery failures since start",
                {(): float(self.relay.failed_total)},
            ),
        }
        return web.Response(
            text=self.metrics.render(gauges), content_type="text/plain", charset="utf-8"
        )


# ----------------------------------------------------------------------------- helpers


def _dumps(value: Any) -> str:
    return codec.json_bytes(value).decode()


async def _verdict(check: Callable[[], Awaitable[object]]) -> str:
    """A health check: "ok" when ``check`` answers within ``HEALTH_TIMEOUT``."""
    try:
        with anyio.fail_after(HEALTH_TIMEOUT):
            await check()
    except (WaportError, TimeoutError) as exc:
        return _failing(exc)
    return "ok"


def _failing(exc: WaportError | TimeoutError) -> str:
    """A health check's verdict on a part that did not answer well."""
    if isinstance(exc, TimeoutError):
        return f"failing: no answer within {HEALTH_TIMEOUT:g} s"
    return f"failing: {exc}"


def _ok(payload: Any, *, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, dumps=_dumps)


def _http_error(exc: web.HTTPException) -> WaportError:
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


def _rate_headers(headers: Any, decision: RateDecision, now: datetime) -> None:
    remaining = max(0, decision.remaining)
    reset_seconds = max(0, math.ceil(decision.reset_after.total_seconds()))
    headers["X-RateLimit-Limit"] = str(decision.limit)
    headers["X-RateLimit-Remaining"] = str(remaining)
    headers["X-RateLimit-Reset"] = str(math.ceil(now.timestamp()) + reset_seconds)
    headers["RateLimit-Policy"] = f'"default";q={decision.limit};w=60'
    headers["RateLimit"] = f'"default";r={remaining};t={reset_seconds}'


def _prefers_async(request: web.Request) -> bool:
    """Whether the client sent ``Prefer: respond-async`` (RFC 7240: preferences are
    comma-separated, may carry ``=value`` and ``;`` parameters, names ignore case)."""
    for header in request.headers.getall("Prefer", ()):
        for preference in header.split(","):
            name = preference.split(";", 1)[0].split("=", 1)[0].strip().lower()
            if name == "respond-async":
                return True
    return False


def _note_preference(response: web.Response, applied: bool) -> None:
    if applied and "Idempotent-Replayed" not in response.headers:  # a replay answers as before
        response.headers["Preference-Applied"] = "respond-async"


def _idempotency_key(raw: str) -> str:
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


_JSON_FIELDS: Final = frozenset(
    {"metadata", "contact", "template", "interactive", "location", "contacts", "reaction"}
)


def _form_to_body(
    fields: Mapping[str, str], files: Mapping[str, tuple[str, str | None, bytes]]
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name, value in fields.items():
        if name in ("type", "caption", "filename", "voice"):
            continue
        if name in _JSON_FIELDS:
            try:
                body[name] = json.loads(value)
            except ValueError:
                raise WaportError(
                    ErrorCode.VALIDATION_FAILED, f"{name} must be JSON", name
                ) from None
        elif name == "check_window":
            body[name] = value.strip().lower() not in ("false", "0", "no")
        else:
            body[name] = value
    if "file" in files:
        mime, filename, data = files["file"]
        media: dict[str, Any] = {
            "data": f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        }
        if fields.get("type"):
            media["type"] = fields["type"]
        if fields.get("caption"):
            media["caption"] = fields["caption"]
        file_name = fields.get("filename") or filename
        if file_name and (
            fields.get("type") == "document"
            or (media.get("type") is None and kind_from_mime(mime) == MediaKind.DOCUMENT)
        ):
            media["filename"] = file_name
        body["media"] = media
    if "header_file" in files:
        mime, _, data = files["header_file"]
        template = body.get("template")
        if not isinstance(template, dict):
            raise WaportError(
                ErrorCode.VALIDATION_FAILED, "a header_file needs a template field", "header_file"
            )
        template["header"] = {
            "data": f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        }
    return body
