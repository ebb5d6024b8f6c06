"""The Messenger: waport's use cases over the ports.

    send       parse -> capabilities -> sender -> template -> window -> limits ->
               billing -> persist -> attempt -> record the outcome
    broadcast  plan -> checks -> persist every row in one transaction -> attempt rows
    ingest     provider events: inbound messages open windows, statuses merge forward
    dispatch   due scheduled sends, paced and retried sends, expiry, crash recovery

Persist-then-attempt: a message is stored before any provider call, and marked
``attempting_since`` (committed) right before it, so a restart can tell "never
tried" from "maybe sent". Decisions are pure functions of the injected clock;
``dispatch_once`` is the loop body tests call directly.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import anyio
import attrs
from anyio.abc import TaskGroup, TaskStatus

from waport import storekit
from waport.domain.broadcast import BroadcastRequest, BroadcastSummary, plan_broadcast, summarize
from waport.domain.convert import parse_broadcast_request, parse_send_request
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.events import InboundMessage, ProviderEvent, StatusUpdate
from waport.domain.limits import MESSAGING_LIMIT_PERIOD
from waport.domain.messages import OutboundMessage, Reaction, TemplateMessage
from waport.domain.ratelimit import RateLimit
from waport.domain.recipients import Recipient, parse_recipient
from waport.domain.records import (
    Contact,
    Direction,
    IdempotencyRecord,
    MessageRecord,
    Sender,
    Workspace,
)
from waport.domain.schedule import Backoff, is_expired, retry_at
from waport.domain.status import UNSENT, ErrorDetail, MessageStatus, StatusChange
from waport.domain.templates import BoundTemplate, TemplateSpec, check_template_params
from waport.domain.window import WindowStatus, is_gated, window_status
from waport.ports import (
    AttemptOutcome,
    Billing,
    Clock,
    Failed,
    IdSource,
    Provider,
    Release,
    Retry,
    Sent,
    StatusPatch,
    Store,
    UrlGuard,
)
from waport.service.billing import UnlimitedBilling
from waport.service.rules import check_capabilities

log = logging.getLogger("waport.service")

SERVICE_CATEGORY = "SERVICE"
_CACHE_MAX = 10_000
UNPACED_RPS: Final = 1_000_000
"""A provider whose ``max_rps`` is this or more (or ``inf``) is not paced per sender."""


def _at_least_a_day(_: object, attribute: attrs.Attribute[Any], value: timedelta | None) -> None:
    if value is not None and value < timedelta(days=1):
        raise ValueError(f"{attribute.name} must be at least a day (or None), got {value}")


@attrs.frozen(kw_only=True)
class Policy:
    """Tunable behaviour of the Messenger. Defaults follow Meta's published rules."""

    provider_timeout: float = 30.0
    attempt_lease: timedelta = timedelta(seconds=90)
    """A claim older than this belongs to a process that died mid-attempt."""
    outcome_window: timedelta = timedelta(minutes=10)
    """How long to wait for a status webhook to reconcile a crashed attempt on a provider
    that cannot de-duplicate before failing it with OUTCOME_UNKNOWN."""
    backoff: Backoff = attrs.Factory(Backoff)
    pair_rate: RateLimit | None = None
    """Overrides the provider's per-recipient pacing."""
    category_pacing: Mapping[str, tuple[float, float]] = attrs.field(factory=dict)
    """Per template category, a random gap in seconds between one sender's sends
    (e.g. ``{"MARKETING": (8, 25)}``)."""
    inline_attempt: bool = True
    """Attempt a send inside the request (200 ``sent``) instead of only queueing (202)."""
    broadcast_concurrency: int = 32
    dispatch_batch: int = 256
    dispatch_interval: float = 0.5
    housekeeping_interval: timedelta = timedelta(minutes=1)
    """How often the dispatcher purges expired idempotency records and idle rate buckets."""
    idempotency_ttl: timedelta = timedelta(hours=24)
    idempotency_lease: timedelta = timedelta(seconds=30)
    sync_templates_on_start: bool = True
    retention: timedelta | None = attrs.field(default=None, validator=_at_least_a_day)
    """Delete finished messages (bodies, numbers, statuses), their delivered webhooks and
    the contacts no message refers to any more, this long after they were created
    (at least a day, so no open 24-hour window is lost). None keeps everything."""
    retention_batch: int = 500
    lookup_cache_ttl: timedelta = timedelta(0)
    """Cache workspace, sender, template and API-key lookups this long (0: off). Changes
    made by another process are seen after at most this long."""


@attrs.frozen(kw_only=True)
class IdempotencyClaim:
    """An Idempotency-Key to record with the accepted rows (DESIGN §5)."""

    scope: str
    key: str
    fingerprint: str


@attrs.frozen(kw_only=True)
class SendResult:
    message: MessageRecord

    @property
    def message_id(self) -> str:
        return self.message.id

    @property
    def status(self) -> MessageStatus:
        return self.message.status

    @property
    def error(self) -> ErrorDetail | None:
        return self.message.error if self.message.status.terminal else None


@attrs.frozen(kw_only=True)
class BroadcastResult:
    broadcast_id: str
    rows: tuple[MessageRecord, ...]

    @property
    def summary(self) -> BroadcastSummary:
        return summarize(r.status for r in self.rows)


@attrs.frozen(kw_only=True)
class IngestReport:
    inbound_new: int = 0
    inbound_duplicate: int = 0
    statuses_applied: int = 0
    statuses_ignored: int = 0
    statuses_stashed: int = 0
    unknown_sender: int = 0
    unresolved_contact: int = 0


@attrs.frozen(kw_only=True)
class DispatchReport:
    attempted: int = 0
    expired: int = 0
    recovered: int = 0
    unknown_outcomes: int = 0
    events: int = 0


def _detail(err: WaportError) -> ErrorDetail:
    return ErrorDetail(
        code=err.code.value,
        message=err.message,
        provider=err.provider,
        provider_code=err.provider_code,
        provider_message=err.provider_message,
    )


DEFAULT_WORKSPACE: Final = "default"
"""The workspace the gateway serves, created at its first start."""


@attrs.define
class Messenger:
    """waport's use cases. An async context manager owning the dispatcher's task group.

    ``async with Messenger(store=..., provider=..., clock=..., ids=...) as m:`` starts
    the dispatcher loop (``run_background=True``); tests leave it off and call
    ``dispatch_once()`` with a fake clock.
    """

    store: Store
    provider: Provider
    clock: Clock
    ids: IdSource
    billing: Billing = attrs.field(factory=UnlimitedBilling)
    policy: Policy = attrs.Factory(Policy)
    rand: random.Random = attrs.Factory(random.Random)
    run_background: bool = False
    default_workspace: str = DEFAULT_WORKSPACE
    url_guard: UrlGuard | None = None
    """Checks callers' webhook and media URLs before a message is accepted (the gateway
    refuses private addresses with it); None accepts any http(s) URL."""
    _tg: TaskGroup | None = attrs.field(default=None, init=False)
    _wake: anyio.Event = attrs.field(factory=anyio.Event, init=False)
    _attempting: int = attrs.field(default=0, init=False)
    _cache: dict[tuple[str, str], tuple[datetime, Any]] = attrs.field(factory=dict, init=False)

    # ------------------------------------------------------------------ lifetime

    async def __aenter__(self) -> Messenger:
        await self.bootstrap()
        if self.run_background:
            self._tg = anyio.create_task_group()
            await self._tg.__aenter__()
            await self._tg.start(self.run_dispatcher)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._tg is not None:
            self._tg.cancel_scope.cancel()
            await self._tg.__aexit__(None, None, None)
            self._tg = None

    async def bootstrap(self, workspace_id: str | None = None) -> Workspace:
        """Make sure the default workspace exists and owns the provider's senders."""
        workspace_id = workspace_id or self.default_workspace
        workspace = await self.store.workspaces.get(workspace_id)
        if workspace is None:
            workspace = Workspace(id=workspace_id, name=workspace_id, messaging_tier=None)
            await self.store.workspaces.put(workspace)
        for sender_id in self.provider.senders:
            if await self.store.workspaces.get_sender(sender_id) is None:
                await self.store.workspaces.put_sender(
                    Sender(id=sender_id, workspace_id=workspace_id)
                )
        if self.policy.sync_templates_on_start and self.provider.capabilities.templates:
            for sender_id in self.provider.senders:
                if not await self.store.templates.list([sender_id]):
                    try:
                        with anyio.fail_after(self.policy.provider_timeout):
                            await self.sync_templates(
                                sender_id=sender_id, workspace_id=workspace_id
                            )
                    except (WaportError, TimeoutError) as exc:
                        log.warning("template sync for %s failed at start: %s", sender_id, exc)
        return workspace

    # ------------------------------------------------------------------ lookups

    async def cached(self, kind: str, key: str, load: Callable[[], Awaitable[Any]]) -> Any:
        """``load()``, remembered for ``policy.lookup_cache_ttl`` under ``(kind, key)``.

        For lookups that change rarely and are read on every request (workspaces,
        senders, templates, API keys); whoever changes one calls :meth:`invalidate`.
        """
        ttl = self.policy.lookup_cache_ttl
        if not ttl:
            return await load()
        now = self.clock.now()
        hit = self._cache.get((kind, key))
        if hit is not None and hit[0] > now:
            return hit[1]
        value = await load()
        if len(self._cache) > _CACHE_MAX:
            self._cache.clear()
        self._cache[(kind, key)] = (now + ttl, value)
        return value

    def invalidate(self) -> None:
        """Forget every cached lookup (after changing a workspace, sender, template or key)."""
        self._cache.clear()

    async def _find_workspace(self, workspace_id: str) -> Workspace | None:
        found: Workspace | None = await self.cached(
            "workspace", workspace_id, lambda: self.store.workspaces.get(workspace_id)
        )
        return found

    async def _find_sender(self, sender_id: str) -> Sender | None:
        found: Sender | None = await self.cached(
            "sender", sender_id, lambda: self.store.workspaces.get_sender(sender_id)
        )
        return found

    async def _workspace(self, workspace_id: str | None) -> Workspace:
        workspace = await self._find_workspace(workspace_id or self.default_workspace)
        if workspace is None:
            raise WaportError(ErrorCode.FORBIDDEN, "unknown workspace")
        return workspace

    async def _sender(
        self, workspace: Workspace, sender_id: str | None, allowed: frozenset[str] | None
    ) -> Sender:
        if sender_id is None:
            everyone: Sequence[Sender] = await self.cached(
                "senders", workspace.id, lambda: self.store.workspaces.senders(workspace.id)
            )
            senders = [s for s in everyone if s.active and (allowed is None or s.id in allowed)]
            if not senders:
                raise WaportError(
                    ErrorCode.SENDER_NOT_FOUND, "the workspace has no active sender", "sender_id"
                )
            return senders[0]
        sender = await self._find_sender(sender_id)
        if sender is None or sender.workspace_id != workspace.id or not sender.active:
            raise WaportError(
                ErrorCode.SENDER_NOT_FOUND,
                "no active sender with this id in the workspace",
                "sender_id",
            )
        if allowed is not None and sender_id not in allowed:
            raise WaportError(
                ErrorCode.FORBIDDEN, "this API key may not send from this sender", "sender_id"
            )
        return sender

    async def _template(
        self, message: OutboundMessage, sender_id: str
    ) -> tuple[TemplateSpec, BoundTemplate]:
        content = message.content
        if not isinstance(content, TemplateMessage):
            raise WaportError(ErrorCode.INTERNAL, "not a template message")
        spec: TemplateSpec | None = await self.cached(
            "template",
            f"{sender_id}\x1f{content.name}\x1f{content.language}",
            lambda: self.store.templates.get(sender_id, content.name, content.language),
        )
        if spec is None:
            raise WaportError(
                ErrorCode.TEMPLATE_NOT_FOUND,
                f"sender {sender_id} has no template {content.name!r} in {content.language}",
                "template.name",
            )
        return spec, check_template_params(spec, content)

    async def get_message(
        self, message_id: str, *, workspace_id: str | None = None
    ) -> MessageRecord:
        record = await self.store.messages.get(message_id)
        if record is None or record.workspace_id != (workspace_id or self.default_workspace):
            raise WaportError(ErrorCode.MESSAGE_NOT_FOUND, "no such message", "message_id")
        return record

    # ------------------------------------------------------------------ window

    async def window_status(
        self, to: Recipient | str, *, sender_id: str | None = None, workspace_id: str | None = None
    ) -> WindowStatus:
        workspace = await self._workspace(workspace_id)
        contact = to if isinstance(to, Recipient) else parse_recipient(to)
        if sender_id is not None:
            sender = await self.store.workspaces.get_sender(sender_id)
            if sender is None or sender.workspace_id != workspace.id:
                raise WaportError(
                    ErrorCode.SENDER_NOT_FOUND, "no such sender in the workspace", "from"
                )
        last = await self.store.messages.last_inbound(
            workspace.id, contact, sender_id, include_templates=workspace.template_opens_window
        )
        return window_status(last, self.clock.now())

    # ------------------------------------------------------------------ send

    async def _check_limits(
        self, workspace: Workspace, rows: Sequence[MessageRecord], now: datetime
    ) -> None:
        if workspace.billing_suspended:
            raise WaportError(ErrorCode.BILLING_SUSPENDED, "the workspace's billing is suspended")
        tier = workspace.messaging_tier
        initiated = {r.contact for r in rows if r.initiated}
        if tier is None or not initiated:
            return
        since = now - MESSAGING_LIMIT_PERIOD
        already = await self.store.messages.initiated_contacts(workspace.id, since, initiated)
        new = len(initiated - already)
        if new and await self.store.messages.count_initiated(workspace.id, since) + new > tier:
            raise WaportError(
                ErrorCode.MESSAGING_LIMIT_REACHED,
                f"the workspace may reach {tier} new contacts outside a window per 24 h",
            )

    async def _prepare(
        self,
        message: OutboundMessage,
        *,
        workspace: Workspace,
        sender: Sender,
        now: datetime,
        broadcast_id: str | None = None,
    ) -> MessageRecord:
        """Check one message (templates, window) and build its record. Raises on refusal."""
        if self.url_guard is not None:
            if message.webhook_url is not None:
                await self.url_guard.check(message.webhook_url, param="webhook_url", kind="webhook")
            for param, url in message.fetched_urls():
                await self.url_guard.check(url, param=param, kind="media")
        category = SERVICE_CATEGORY
        initiated = False
        caps = self.provider.capabilities
        if isinstance(message.content, TemplateMessage):
            spec, _ = await self._template(message, sender.id)
            category = spec.category.value
            if caps.window_applies:
                last = await self.store.messages.last_inbound(workspace.id, message.to, sender.id)
                initiated = not window_status(last, now).within_window
        elif (
            caps.window_applies
            and message.check_window
            and is_gated(message.content)
            and message.to.kind == "phone"
        ):
            last = await self.store.messages.last_inbound(
                workspace.id,
                message.to,
                sender.id,
                include_templates=workspace.template_opens_window,
            )
            if not window_status(last, now).within_window:
                raise WaportError(
                    ErrorCode.WINDOW_CLOSED,
                    "the 24-hour customer-service window with this contact is closed; send an approved template",
                    "to",
                )
        scheduled = message.scheduled_at is not None and message.scheduled_at > now
        status = MessageStatus.SCHEDULED if scheduled else MessageStatus.PENDING
        return MessageRecord(
            id=self.ids.new_id("msg"),
            workspace_id=workspace.id,
            sender_id=sender.id,
            contact=message.to,
            direction=Direction.OUTBOUND,
            status=status,
            history=(StatusChange(status=status, at=now),),
            created_at=now,
            message=message
            if message.sender_id == sender.id
            else attrs.evolve(message, sender_id=sender.id),
            broadcast_id=broadcast_id,
            category=category,
            initiated=initiated,
            due_at=message.scheduled_at if scheduled else now,
            webhook_url=message.webhook_url or workspace.webhook_url,
            metadata=message.metadata,
        )

    def _idempotency_record(
        self, claim: IdempotencyClaim, ids: tuple[str, ...], now: datetime
    ) -> IdempotencyRecord:
        return IdempotencyRecord(
            scope=claim.scope,
            key=claim.key,
            fingerprint=claim.fingerprint,
            created_at=now,
            expires_at=now + self.policy.idempotency_ttl,
            locked_until=now + self.policy.idempotency_lease,
            message_ids=ids,
        )

    async def send(
        self,
        request: OutboundMessage | Mapping[str, Any],
        *,
        workspace_id: str | None = None,
        idempotency: IdempotencyClaim | None = None,
        allowed_senders: frozenset[str] | None = None,
        attempt: bool | None = None,
    ) -> SendResult:
        """Send one message. Refusals before anything is stored raise ``WaportError``;
        an accepted message comes back with its status (sent, pending, scheduled or failed).
        ``attempt=False`` only stores it (pending) for the dispatcher; ``None`` follows
        ``Policy.inline_attempt``."""
        inline = self._inline(attempt)
        message = request if isinstance(request, OutboundMessage) else parse_send_request(request)
        workspace = await self._workspace(workspace_id)
        check_capabilities(self.provider.capabilities, message)
        sender = await self._sender(workspace, message.sender_id, allowed_senders)
        now = self.clock.now()
        record = await self._prepare(message, workspace=workspace, sender=sender, now=now)
        await self._check_limits(workspace, [record], now)
        category = record.category or SERVICE_CATEGORY
        await self.billing.reserve(workspace.id, category=category, count=1)
        claimed = False
        try:
            if record.status == MessageStatus.PENDING and inline:
                # pace first; a message that may go now is stored already claimed, so its
                # acceptance and its "attempting" mark land in one commit
                not_before = await self._pace(record, now)
                if not_before is not None:
                    record = attrs.evolve(record, due_at=not_before)
                else:
                    record = storekit.claim(record, now) or record
                    claimed = True
            async with self.store.transaction() as tx:
                tx.add_messages([record])
                if idempotency is not None:
                    tx.claim_idempotency(self._idempotency_record(idempotency, (record.id,), now))
                if message.contact is not None:
                    tx.upsert_contact(
                        Contact(
                            workspace_id=workspace.id,
                            recipient=message.to,
                            name=message.contact.name,
                            labels=message.contact.labels,
                            metadata=message.contact.metadata,
                            updated_at=now,
                        )
                    )
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.billing.refund(workspace.id, category=category, count=1)
            raise
        log.debug("message %s to %s accepted (%s)", record.id, record.contact, record.status)
        if not claimed:
            self._wake.set()  # queued for later: the dispatcher takes it from here
            return SendResult(message=record)
        return SendResult(message=await self._run_claimed(record, now))

    # ------------------------------------------------------------------ attempts

    async def _pace(self, record: MessageRecord, now: datetime) -> datetime | None:
        """When the message may go out, if not now (per-sender, per-recipient and per-category pacing)."""
        caps = self.provider.capabilities
        if caps.max_rps < UNPACED_RPS:
            per_second = max(1, math.ceil(caps.max_rps))
            decision = await self.store.rate_limits.hit(
                f"pace:{record.sender_id}", RateLimit(per_second, timedelta(seconds=1)), now=now
            )
            if not decision.allowed:
                return now + decision.retry_after
        pair = self.policy.pair_rate or caps.pair_rate
        if pair is not None and record.contact.kind == "phone":
            decision = await self.store.rate_limits.hit(
                f"pair:{record.sender_id}:{record.contact}", pair, now=now
            )
            if not decision.allowed:
                return now + decision.retry_after
        gap = self.policy.category_pacing.get(record.category or "")
        if gap is not None:
            seconds = self.rand.uniform(*gap)
            decision = await self.store.rate_limits.hit(
                f"cat:{record.sender_id}:{record.category}",
                RateLimit(1, timedelta(seconds=seconds), burst=1),
                now=now,
            )
            if not decision.allowed:
                return now + decision.retry_after
        return None

    async def _resolve_provider_id(self, message_id: str) -> str:
        """A message id from the caller (ours or the provider's) as the provider's id."""
        record = await self.store.messages.get(message_id)
        if record is not None and record.provider_message_id is not None:
            return record.provider_message_id
        return message_id

    async def _outcome(self, record: MessageRecord, now: datetime) -> AttemptOutcome:
        message = record.message
        if message is None:
            raise WaportError(ErrorCode.INTERNAL, "an outbound record without its message")
        bound: BoundTemplate | None = None
        try:
            if isinstance(message.content, TemplateMessage):
                _, bound = await self._template(message, record.sender_id)
            reply_to = (
                await self._resolve_provider_id(message.reply_to) if message.reply_to else None
            )
            if isinstance(message.content, Reaction):
                target = await self._resolve_provider_id(message.content.message_id)
                if target != message.content.message_id:
                    message = attrs.evolve(
                        message, content=attrs.evolve(message.content, message_id=target)
                    )
            own_deadline = self.provider.capabilities.send_timeout
            call = self.provider.send(
                message,
                sender=record.sender_id,
                client_id=record.id,
                template=bound,
                reply_to=reply_to,
            )
            if own_deadline is not None and own_deadline <= self.policy.provider_timeout:
                receipt = await call  # the provider's own deadline is the shorter one
            else:
                # asyncio's own timeout, not anyio's fail_after: a second anyio cancel
                # scope nested in the attempt's shield cost about 12 µs per send under
                # load (docs/performance.md); on expiry both raise TimeoutError
                async with asyncio.timeout(self.policy.provider_timeout):
                    receipt = await call
        except WaportError as err:
            return self._failure_outcome(record, err, now)
        except TimeoutError:
            return self._timed_out(record, now)
        except Exception as exc:  # an adapter bug must not lose the message
            log.exception("provider %s raised a non-waport error", self.provider.name)
            bug = WaportError(
                ErrorCode.INTERNAL, f"the provider adapter failed: {type(exc).__name__}"
            )
            return self._failure_outcome(record, bug, now)
        return Sent(
            provider=self.provider.name,
            provider_message_id=receipt.provider_message_id,
            at=self.clock.now(),
        )

    def _inline(self, attempt: bool | None) -> bool:
        """Whether a send or broadcast is attempted inside the call (else only stored)."""
        return self.policy.inline_attempt if attempt is None else attempt

    def _timed_out(self, record: MessageRecord, now: datetime) -> AttemptOutcome:
        timeout = WaportError(
            ErrorCode.PROVIDER_UNAVAILABLE,
            "the provider did not answer in time",
            provider=self.provider.name,
        )
        return self._failure_outcome(record, timeout, now)

    def _failure_outcome(
        self, record: MessageRecord, err: WaportError, now: datetime
    ) -> AttemptOutcome:
        if err.retryable:
            when = retry_at(
                now,
                record.attempts,
                self.rand.random(),
                self.policy.backoff,
                retry_after=err.retry_after,
            )
            if when is not None and not is_expired(record.expires_at, when):
                return Retry(at=now, due_at=when, error=_detail(err))
        return Failed(at=now, error=_detail(err))

    async def _attempt(self, message_id: str) -> MessageRecord:
        """Claim, pace, send and record one stored message."""
        now = self.clock.now()
        claimed = await self.store.messages.claim(message_id, now=now)
        if claimed is None:
            current = await self.store.messages.get(message_id)
            if current is None:
                raise WaportError(ErrorCode.MESSAGE_NOT_FOUND, "no such message", "message_id")
            return current
        return await self._run_claimed(claimed, now, pace=True)

    async def _run_claimed(
        self, claimed: MessageRecord, now: datetime, *, pace: bool = False
    ) -> MessageRecord:
        """Attempt a claimed message and record the outcome. Shielded: once claimed, the
        outcome is always written, even if the caller goes away."""
        with anyio.CancelScope(shield=True):
            self._attempting += 1
            try:
                if is_expired(claimed.expires_at, now):
                    error = ErrorDetail(
                        code=ErrorCode.EXPIRED.value, message="not sent before expires_at"
                    )
                    outcome: AttemptOutcome = Failed(
                        at=now, error=error, status=MessageStatus.EXPIRED
                    )
                else:
                    not_before = await self._pace(claimed, now) if pace else None
                    outcome = (
                        Release(due_at=not_before)
                        if not_before
                        else await self._outcome(claimed, now)
                    )
                record = await self.store.messages.finish(claimed.id, outcome)
            finally:
                self._attempting -= 1
            if isinstance(outcome, Failed):
                await self.billing.refund(
                    record.workspace_id, category=record.category or SERVICE_CATEGORY, count=1
                )
            if isinstance(outcome, Release | Retry):
                self._wake.set()
        return record

    # ------------------------------------------------------------------ broadcast

    async def broadcast(
        self,
        request: BroadcastRequest | Mapping[str, Any],
        *,
        workspace_id: str | None = None,
        idempotency: IdempotencyClaim | None = None,
        allowed_senders: frozenset[str] | None = None,
        attempt: bool | None = None,
    ) -> BroadcastResult:
        """One template to 1-256 recipients, persist-then-attempt (DESIGN §2 Broadcast).

        Whole-request refusals raise (nothing stored): a malformed body, duplicates,
        an unknown sender, ``MESSAGING_LIMIT_REACHED``, ``INSUFFICIENT_BALANCE``. A row
        refused before sending (template, parameters) is stored and marked ``failed``.
        ``attempt=False`` leaves the rows pending for the dispatcher; ``None`` follows
        ``Policy.inline_attempt``.
        """
        req = request if isinstance(request, BroadcastRequest) else parse_broadcast_request(request)
        messages = plan_broadcast(req)
        workspace = await self._workspace(workspace_id)
        check_capabilities(self.provider.capabilities, messages[0])
        sender = await self._sender(workspace, req.sender_id, allowed_senders)
        now = self.clock.now()
        broadcast_id = self.ids.new_id("bc")
        rows: list[MessageRecord] = []
        refused: dict[str, WaportError] = {}
        for message in messages:
            try:
                rows.append(
                    await self._prepare(
                        message,
                        workspace=workspace,
                        sender=sender,
                        now=now,
                        broadcast_id=broadcast_id,
                    )
                )
            except WaportError as err:
                row = self._bare_row(message, workspace, sender, now, broadcast_id)
                rows.append(row)
                refused[row.id] = err
        live = [r for r in rows if r.id not in refused]
        await self._check_limits(workspace, live, now)
        category = live[0].category if live else SERVICE_CATEGORY
        if live:
            await self.billing.reserve(
                workspace.id, category=category or SERVICE_CATEGORY, count=len(live)
            )
        try:
            async with self.store.transaction() as tx:
                tx.add_messages(rows)
                if idempotency is not None:
                    tx.claim_idempotency(
                        self._idempotency_record(idempotency, tuple(r.id for r in rows), now)
                    )
        except BaseException:
            if live:
                with anyio.CancelScope(shield=True):
                    await self.billing.refund(
                        workspace.id, category=category or SERVICE_CATEGORY, count=len(live)
                    )
            raise
        finals: dict[str, MessageRecord] = {}
        for row_id, refusal in refused.items():
            if await self.store.messages.claim(row_id, now=now) is not None:
                finals[row_id] = await self.store.messages.finish(
                    row_id, Failed(at=now, error=_detail(refusal))
                )
        self._wake.set()
        if self._inline(attempt):
            limiter = anyio.CapacityLimiter(self.policy.broadcast_concurrency)

            async def attempt_row(row_id: str) -> None:
                async with limiter:
                    finals[row_id] = await self._attempt(row_id)

            async with anyio.create_task_group() as tg:
                for row in live:
                    if row.status == MessageStatus.PENDING:
                        tg.start_soon(attempt_row, row.id)
        return BroadcastResult(
            broadcast_id=broadcast_id, rows=tuple(finals.get(r.id, r) for r in rows)
        )

    def _bare_row(
        self,
        message: OutboundMessage,
        workspace: Workspace,
        sender: Sender,
        now: datetime,
        broadcast_id: str,
    ) -> MessageRecord:
        return MessageRecord(
            id=self.ids.new_id("msg"),
            workspace_id=workspace.id,
            sender_id=sender.id,
            contact=message.to,
            direction=Direction.OUTBOUND,
            status=MessageStatus.PENDING,
            history=(StatusChange(status=MessageStatus.PENDING, at=now),),
            created_at=now,
            message=message,
            broadcast_id=broadcast_id,
            category=SERVICE_CATEGORY,
            due_at=None,
            webhook_url=message.webhook_url or workspace.webhook_url,
            metadata=message.metadata,
        )

    async def get_broadcast(
        self, broadcast_id: str, *, workspace_id: str | None = None
    ) -> BroadcastResult:
        rows = await self.store.messages.by_broadcast(broadcast_id)
        if not rows or rows[0].workspace_id != (workspace_id or self.default_workspace):
            raise WaportError(ErrorCode.BROADCAST_NOT_FOUND, "no such broadcast", "broadcast_id")
        return BroadcastResult(broadcast_id=broadcast_id, rows=tuple(rows))

    # ------------------------------------------------------------------ read receipts

    async def mark_read(
        self, message_id: str, *, workspace_id: str | None = None, typing: bool = False
    ) -> MessageRecord:
        """Mark an inbound message read (blue ticks). Another workspace's message is FORBIDDEN;
        an unknown or outbound one is INVALID_MESSAGE."""
        record = await self.store.messages.get(message_id)
        if record is None:
            raise WaportError(
                ErrorCode.INVALID_MESSAGE, "no inbound message with this id", "message_id"
            )
        if record.workspace_id != (workspace_id or self.default_workspace):
            raise WaportError(
                ErrorCode.FORBIDDEN, "the message belongs to another workspace", "message_id"
            )
        if record.direction != Direction.INBOUND or record.provider_message_id is None:
            raise WaportError(
                ErrorCode.INVALID_MESSAGE,
                "only an inbound message can be marked read",
                "message_id",
            )
        with anyio.fail_after(self.policy.provider_timeout):
            await self.provider.mark_read(
                record.provider_message_id,
                sender=record.sender_id,
                contact=record.contact,
                typing=typing,
            )
        results = await self.store.messages.apply_statuses(
            [
                StatusPatch(
                    message_id=record.id,
                    change=StatusChange(status=MessageStatus.READ, at=self.clock.now()),
                )
            ]
        )
        return results[0].record or record

    # ------------------------------------------------------------------ templates

    async def sync_templates(self, *, sender_id: str, workspace_id: str | None = None) -> int:
        """Replace a sender's template catalogue with the provider's."""
        workspace = await self._workspace(workspace_id)
        sender = await self.store.workspaces.get_sender(sender_id)
        if sender is None or sender.workspace_id != workspace.id:
            raise WaportError(
                ErrorCode.SENDER_NOT_FOUND, "no such sender in the workspace", "sender_id"
            )
        if not self.provider.capabilities.templates:
            raise WaportError(ErrorCode.FEATURE_NOT_SUPPORTED, "this provider has no templates")
        specs = await self.provider.list_templates(sender_id)
        await self.store.templates.replace(sender_id, specs)
        self.invalidate()
        return len(specs)

    async def list_templates(
        self, *, workspace_id: str | None = None, sender_id: str | None = None
    ) -> Sequence[TemplateSpec]:
        workspace = await self._workspace(workspace_id)
        senders = [s.id for s in await self.store.workspaces.senders(workspace.id)]
        if sender_id is not None:
            if sender_id not in senders:
                raise WaportError(
                    ErrorCode.SENDER_NOT_FOUND, "no such sender in the workspace", "sender_id"
                )
            senders = [sender_id]
        return await self.store.templates.list(senders)

    # ------------------------------------------------------------------ ingest

    async def ingest(self, events: Sequence[ProviderEvent]) -> IngestReport:
        """Take provider events: inbound messages (stored once, open the window, enqueue
        ``message.received``) and status updates (merged forward only)."""
        records: list[MessageRecord] = []
        unknown = unresolved = 0
        for event in events:
            if not isinstance(event, InboundMessage):
                continue
            sender = await self._find_sender(event.sender_id)
            if sender is None:
                unknown += 1
                log.warning("inbound message for unknown sender %s dropped", event.sender_id)
                continue
            workspace = await self._find_workspace(sender.workspace_id)
            reply_to = None
            if event.reply_to:
                target = await self.store.messages.find_by_provider_id(
                    event.provider, event.reply_to
                )
                reply_to = target.id if target is not None else None
            contact = event.contact
            message = event
            if contact is not None and event.alias:
                await self.store.contacts.link_alias(event.alias, contact)
            elif contact is None and event.alias:
                contact = await self.store.contacts.resolve_alias(event.alias)
                message = attrs.evolve(event, contact=contact)
            if contact is None:
                unresolved += 1
                log.warning(
                    "inbound message %s from an unresolved alias dropped", event.provider_message_id
                )
                continue
            records.append(
                MessageRecord(
                    id=self.ids.new_id("msg"),
                    workspace_id=sender.workspace_id,
                    sender_id=sender.id,
                    contact=contact,
                    direction=Direction.INBOUND,
                    status=MessageStatus.DELIVERED,
                    history=(StatusChange(status=MessageStatus.DELIVERED, at=event.received_at),),
                    created_at=event.received_at,
                    inbound=message,
                    provider=event.provider,
                    provider_message_id=event.provider_message_id,
                    webhook_url=workspace.webhook_url if workspace else None,
                    reply_to=reply_to,
                )
            )
        flags = await self.store.messages.record_inbound(records) if records else []
        for record, new in zip(records, flags, strict=False):
            if new:
                log.debug("inbound %s from %s stored", record.id, record.contact)
        patches = [
            StatusPatch(
                change=StatusChange(status=e.status, at=e.at, error=e.error),
                message_id=e.message_id,
                provider=e.provider,
                provider_message_id=e.provider_message_id,
            )
            for e in events
            if isinstance(e, StatusUpdate)
        ]
        results = await self.store.messages.apply_statuses(patches) if patches else []
        return IngestReport(
            inbound_new=sum(flags),
            inbound_duplicate=len(flags) - sum(flags),
            statuses_applied=sum(r.changed for r in results),
            statuses_ignored=sum(not r.changed and not r.stashed for r in results),
            statuses_stashed=sum(r.stashed for r in results),
            unknown_sender=unknown,
            unresolved_contact=unresolved,
        )

    # ------------------------------------------------------------------ dispatch

    async def dispatch_once(self) -> DispatchReport:
        """One pass: provider events, crash recovery, expiry, due sends."""
        now = self.clock.now()
        events = await self.provider.poll_events(now)
        if events:
            await self.ingest(events)
        recovered = unknown = 0
        caps = self.provider.capabilities
        for record in await self.store.messages.in_flight(
            started_before=now - self.policy.attempt_lease, limit=self.policy.dispatch_batch
        ):
            if caps.client_message_ids:
                await self.store.messages.finish(
                    record.id,
                    Release(due_at=now, count_attempt=True, claimed_at=record.attempting_since),
                )
                recovered += 1
            elif (
                record.attempting_since is not None
                and record.attempting_since <= now - self.policy.outcome_window
            ):
                error = ErrorDetail(
                    code=ErrorCode.OUTCOME_UNKNOWN.value,
                    message="the process stopped mid-attempt and the provider never reported this message",
                    provider=self.provider.name,
                )
                await self.store.messages.finish(
                    record.id, Failed(at=now, error=error, claimed_at=record.attempting_since)
                )
                unknown += 1
        due = await self.store.messages.due(now, limit=self.policy.dispatch_batch)
        attempted = expired = 0
        limiter = anyio.CapacityLimiter(self.policy.broadcast_concurrency)

        async def attempt(record_id: str) -> None:
            async with limiter:
                await self._attempt(record_id)

        async with anyio.create_task_group() as tg:
            for record in due:
                if record.status not in UNSENT:
                    continue
                if is_expired(record.expires_at, now):
                    expired += 1
                else:
                    attempted += 1
                tg.start_soon(attempt, record.id)
        return DispatchReport(
            attempted=attempted,
            expired=expired,
            recovered=recovered,
            unknown_outcomes=unknown,
            events=len(events),
        )

    async def housekeeping(self) -> int:
        """Purge expired idempotency records and idle rate buckets, and apply the
        retention policy. Returns how many messages retention deleted."""
        now = self.clock.now()
        await self.store.idempotency.purge(now)
        await self.store.rate_limits.purge(now)  # a bucket whose TAT has passed is full again
        purged = 0
        if self.policy.retention is not None:
            batch = self.policy.retention_batch
            while True:
                gone = await self.store.messages.purge_before(
                    now - self.policy.retention, limit=batch
                )
                purged += gone
                if gone < batch:
                    break
        return purged

    def wake(self) -> None:
        self._wake.set()

    async def run_dispatcher(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """The dispatcher loop: ``dispatch_once`` then sleep until woken or the interval passes."""
        task_status.started()
        housekeeping_at = self.clock.now() + self.policy.housekeeping_interval
        while True:
            try:
                report = await self.dispatch_once()
                if self.clock.now() >= housekeeping_at:
                    await self.housekeeping()
                    housekeeping_at = self.clock.now() + self.policy.housekeeping_interval
            except Exception:
                log.exception("dispatcher pass failed")
                report = DispatchReport()
            if report.attempted >= self.policy.dispatch_batch:
                continue
            with anyio.move_on_after(self.policy.dispatch_interval):
                await self._wake.wait()
            self._wake = anyio.Event()
