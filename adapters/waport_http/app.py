"""The aiohttp application: the REST API of DESIGN §5.

Routes are thin: each parses its request, calls one use case of ``waport.service``
and renders the answer (one module per resource in ``waport_http.routes``). What every
route shares lives here: authentication and the key's rate limit, the Idempotency-Key
wrapper, and the bounds on request bodies.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any, Final

import anyio
import attrs
from aiohttp import web

from waport.domain.errors import ErrorCode, WaportError
from waport.domain.limits import MediaKind
from waport.domain.records import ApiKey, MediaObject, StoredResponse
from waport.service import IdempotencyClaim, Messenger, Scope, keys, media, replay
from waport.service.core import Core
from waport_http import auth, bodies, forms
from waport_http.metrics import Metrics
from waport_http.middleware import KEY_ATTR, RATE_ATTR, envelope, json_bytes
from waport_http.relay import WebhookRelay

NON_RETRYABLE_REPLAY: Final = frozenset({500})
PROVIDER_CHECK_PERIOD: Final = timedelta(seconds=10)
"""How long ``/healthz`` reuses the provider's last answer (``routes.operations``)."""
Run = Callable[[IdempotencyClaim | None], Awaitable[tuple[int, dict[str, Any]]]]
Resume = Callable[[replay.Earlier], tuple[int, dict[str, Any]]]


@attrs.define
class Keep:
    """Whether what a block stored is to be kept (see ``Gateway.uploads``)."""

    value: bool = False

    def set(self, value: bool) -> None:
        self.value = value


@attrs.define
class Slots:
    """At most ``limit`` long-lived answers (event streams) at once; 429 past that."""

    limit: int
    used: int = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        if self.used >= self.limit:
            raise WaportError(
                ErrorCode.RATE_LIMITED,
                f"this gateway serves at most {self.limit} event streams at once",
                retry_after=5,
            )
        self.used += 1
        try:
            yield
        finally:
            self.used -= 1


@attrs.define
class Gateway:
    """Everything a request needs, owned by the composition root (``open_gateway``)."""

    messenger: Messenger
    relay: WebhookRelay
    pepper: str | None = attrs.field(default=None, repr=False)
    rate_limit_per_minute: int = 60
    max_body_bytes: int = 1024 * 1024
    max_message_bytes: int = 23 * 1024 * 1024
    max_upload_bytes: int = 100 * 1024 * 1024
    max_webhook_bytes: int = 4 * 1024 * 1024
    access_log: bool = False
    metrics_token: str | None = attrs.field(default=None, repr=False)
    body_timeout: float = bodies.DEFAULT_BODY_TIMEOUT
    """Seconds a body may pause between chunks; a webhook's must arrive whole within it."""
    max_webhook_reads: int = 8
    """Webhook bodies read at once (before their signature is checked, so by anyone)."""
    max_streams: int = 64
    """Event streams (``GET /v1/events/stream``) open at once."""
    metrics: Metrics = attrs.Factory(Metrics)
    on_ingest: Callable[[], None] | None = None
    _webhook_reads: anyio.Semaphore = attrs.field(init=False)
    streams: Slots = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._webhook_reads = anyio.Semaphore(self.max_webhook_reads)
        self.streams = Slots(self.max_streams)

    @property
    def core(self) -> Core:
        return self.messenger.core

    @property
    def clock(self) -> Any:
        return self.messenger.clock

    def app(self) -> web.Application:
        from waport_http.routes import all_routes  # the routes import this module's Gateway

        application = web.Application(
            middlewares=[
                envelope(
                    ids=self.messenger.ids,
                    clock=self.messenger.clock,
                    metrics=self.metrics,
                    access_log=self.access_log,
                )
            ],
            client_max_size=self.max_upload_bytes + 1024 * 1024,
        )
        application[bodies.BODY_TIMEOUT] = self.body_timeout
        application.router.add_routes(all_routes(self))
        changes = self.core.changes
        if changes is not None:

            async def end_streams(_: web.Application) -> None:
                changes.close()

            application.on_shutdown.append(end_streams)
        return application

    # ------------------------------------------------------------------ auth

    async def authenticate(self, request: web.Request, scope: str) -> ApiKey:
        """The request's key, counted against its rate; 401/429/403 otherwise."""
        presented = auth.from_headers(
            request.headers.get("Authorization"), request.headers.get("X-Api-Key")
        )
        key = await keys.authenticate(self.core, presented, self.pepper)
        decision = await keys.count_request(self.core, key, self.rate_limit_per_minute)
        request[RATE_ATTR] = decision
        request[KEY_ATTR] = key
        if not decision.allowed:
            raise WaportError(
                ErrorCode.RATE_LIMITED,
                f"this key may make {decision.limit} requests per minute",
                retry_after=decision.retry_after.total_seconds(),
            )
        if not key.allows(scope):
            raise WaportError(ErrorCode.INSUFFICIENT_SCOPE, f"this API key lacks the {scope} scope")
        return key

    @asynccontextmanager
    async def uploads(
        self, request: web.Request, key: ApiKey
    ) -> AsyncIterator[tuple[forms.Form, Keep]]:
        """A multipart send read with its files streamed into the media store: unless
        the block sets its ``Keep`` (a message now references them), they are deleted
        on the way out, as they are when reading the form fails half-way."""
        scope = self.scope(key)
        stored: list[str] = []

        async def upload(
            chunks: AsyncIterable[bytes], mime: str, filename: str | None, kind: MediaKind | None
        ) -> MediaObject:
            kept = await media.upload(
                self.core, scope, chunks, mime_type=mime, filename=filename, kind=kind
            )
            stored.append(kept.id)
            return kept

        keep = Keep()
        try:
            form = await forms.read_send(
                request, upload, max_upload=self.max_upload_bytes, max_field=self.max_body_bytes
            )
            yield form, keep
        finally:
            if not keep.value:
                with anyio.CancelScope(shield=True):
                    await media.discard(self.core, stored)

    @staticmethod
    def scope(key: ApiKey, idempotency: IdempotencyClaim | None = None) -> Scope:
        return Scope(workspace_id=key.workspace_id, senders=key.senders, idempotency=idempotency)

    @staticmethod
    def check_sender(key: ApiKey, sender_id: str | None, param: str) -> None:
        """A key limited to some senders may name only those (403 otherwise)."""
        if sender_id is not None and not key.may_use(sender_id):
            raise WaportError(ErrorCode.FORBIDDEN, "this API key may not use this sender", param)

    async def read_object(
        self, request: web.Request, *fields: str, optional: bool = False
    ) -> dict[str, Any]:
        return await bodies.read_object(request, self.max_body_bytes, *fields, optional=optional)

    async def webhook_body(self, request: web.Request) -> bytes:
        """A provider webhook's body: unauthenticated until its signature is checked, so
        at most ``max_webhook_reads`` are read at once (each at most ``max_webhook_bytes``)
        and each, waiting included, must arrive within ``body_timeout``."""
        try:
            with anyio.fail_after(self.body_timeout):
                async with self._webhook_reads:
                    return await bodies.read(request, self.max_webhook_bytes)
        except TimeoutError:
            raise WaportError(
                ErrorCode.REQUEST_TIMEOUT,
                f"the webhook's body did not arrive within {self.body_timeout:g} s",
            ) from None

    def ingested(self) -> None:
        self.relay.wake()
        if self.on_ingest is not None:
            self.on_ingest()

    # ------------------------------------------------------------------ idempotency

    async def idempotent(
        self, request: web.Request, key: ApiKey, route: str, body: Any, *, run: Run, resume: Resume
    ) -> web.Response:
        """Run a POST once per Idempotency-Key: a repeat replays the first answer
        (``Idempotent-Replayed: true``); a first request that died after storing its
        rows is answered from them (``resume``)."""
        raw = request.headers.get("Idempotency-Key")
        if raw is None:
            status, payload = await run(None)
            return _json(status, json_bytes(payload))
        claim = replay.claim_for(
            f"{key.workspace_id}:{key.id}", bodies.idempotency_key(raw), route, body
        )
        answer = await self._replay(claim, resume)
        if answer is not None:
            return answer
        try:
            status, payload = await run(claim)
        except WaportError as err:
            if err.code != ErrorCode.IDEMPOTENCY_IN_PROGRESS:
                raise
            answer = await self._replay(claim, resume)
            if answer is not None:
                return answer
            raise
        body_bytes = json_bytes(payload)
        if status not in NON_RETRYABLE_REPLAY:
            with anyio.CancelScope(shield=True):
                await replay.complete(
                    self.core, claim, StoredResponse(status=status, body=body_bytes)
                )
        return _json(status, body_bytes)

    async def _replay(self, claim: IdempotencyClaim, resume: Resume) -> web.Response | None:
        earlier = await replay.earlier(self.core, claim)
        if earlier is None:
            return None
        stored = earlier.response
        if stored is None:
            status, payload = resume(earlier)
            stored = StoredResponse(status=status, body=json_bytes(payload))
            await replay.complete(self.core, claim, stored)
        response = web.Response(
            status=stored.status, body=stored.body, content_type=stored.content_type
        )
        response.headers["Idempotent-Replayed"] = "true"
        return response


def _json(status: int, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json")


def note_preference(response: web.Response, applied: bool) -> None:
    if applied and "Idempotent-Replayed" not in response.headers:  # a replay answers as before
        response.headers["Preference-Applied"] = "respond-async"
