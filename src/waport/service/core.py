"""What every use case shares: the ports it works over, the tunable policy, the caller's
scope, and the results the use cases return.

``Core`` is the bundle of collaborators (cosmicpython's unit of dependencies): the
store, the provider, the clock, ids, billing, the URL guard and the lookup cache. The
use-case modules are functions over it; ``Messenger`` is a thin facade that owns one.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

import anyio
import attrs

from waport.domain.broadcast import BroadcastSummary, summarize
from waport.domain.consent import (
    BLOCKED_CATEGORIES,
    OPT_IN_KEYWORDS,
    OPT_OUT_KEYWORDS,
    ConsentRules,
)
from waport.domain.ratelimit import RateLimit
from waport.domain.records import MessageRecord, Workspace
from waport.domain.schedule import Backoff
from waport.domain.status import ErrorDetail, MessageStatus
from waport.ports import Billing, Clock, IdSource, Provider, Store, UrlGuard
from waport.service.billing import UnlimitedBilling
from waport.service.changes import Changes
from waport.service.lookups import Lookups
from waport.service.mediaids import InboundFetches, ProviderMediaIds

SERVICE_CATEGORY: Final = "SERVICE"
DEFAULT_WORKSPACE: Final = "default"
"""The workspace the gateway serves, created at its first start."""


def _at_least_a_day(_: object, attribute: attrs.Attribute[Any], value: timedelta | None) -> None:
    if value is not None and value < timedelta(days=1):
        raise ValueError(f"{attribute.name} must be at least a day (or None), got {value}")


@attrs.frozen(kw_only=True)
class Policy:
    """Tunable behaviour of the service. Defaults follow Meta's published rules."""

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
    media_retention: timedelta | None = attrs.field(
        default=timedelta(days=30), validator=_at_least_a_day
    )
    """Delete stored media (uploads, contacts' media, inline bytes of sends) this long
    after it was stored, unless a message not sent yet refers to it. None keeps it."""
    lookup_cache_ttl: timedelta = timedelta(0)
    """Cache workspace, sender, template and API-key lookups this long (0: off). Changes
    made by another process are seen after at most this long."""
    opt_out_keywords: frozenset[str] = OPT_OUT_KEYWORDS
    """Inbound texts that opt a contact out, as ``consent.normalise`` leaves them."""
    opt_in_keywords: frozenset[str] = OPT_IN_KEYWORDS
    opt_out_blocked: frozenset[str] = BLOCKED_CATEGORIES
    """Template categories an opted-out contact is not sent (``RECIPIENT_OPTED_OUT``)."""
    opt_out_reply: str | None = None
    """A text sent back when a contact opts out (inside the window their STOP opened)."""
    inbound_media: str = attrs.field(
        default="eager", validator=attrs.validators.in_(("eager", "lazy", "off"))
    )
    """Media contacts send: fetched by the dispatcher after ingest (``eager``), when
    first asked for (``lazy``), or never (``off``)."""
    media_fetch_attempts: int = 4
    """Tries of an eager fetch that may pass (the provider unreachable), with ``backoff``."""
    prices: Mapping[str, int] = attrs.field(factory=dict)
    """What a message of each category (MARKETING, UTILITY, AUTHENTICATION, SERVICE)
    costs a prepaid workspace, in the smallest unit; a category not listed is free
    (``waport.domain.ledger``)."""


@attrs.frozen(kw_only=True)
class IdempotencyClaim:
    """An Idempotency-Key to record with the accepted rows (DESIGN §5)."""

    scope: str
    key: str
    fingerprint: str


@attrs.frozen(kw_only=True)
class Scope:
    """Who is asking: the workspace, the senders the caller may use (``None``: all), and
    the Idempotency-Key to record with what the request stores."""

    workspace_id: str | None = None
    senders: frozenset[str] | None = None
    idempotency: IdempotencyClaim | None = None


@attrs.define(kw_only=True)
class Core:
    """The collaborators of every use case, and the dispatcher's wake-up signal."""

    store: Store
    provider: Provider
    clock: Clock
    ids: IdSource
    billing: Billing = attrs.field(factory=UnlimitedBilling)
    policy: Policy = attrs.Factory(Policy)
    rand: random.Random = attrs.Factory(random.Random)
    default_workspace: str = DEFAULT_WORKSPACE
    url_guard: UrlGuard | None = None
    """Checks callers' webhook and media URLs before a message is accepted (the gateway
    refuses private addresses with it); None accepts any http(s) URL."""
    changes: Changes | None = None
    """The feed of committed message changes (``service.changes``), when one is kept."""
    lookups: Lookups = attrs.field(init=False)
    wakeup: anyio.Event = attrs.field(factory=anyio.Event, init=False)
    _gateway_rules: tuple[Policy, ConsentRules] | None = attrs.field(default=None, init=False)
    attempting: int = attrs.field(default=0, init=False)
    reserved: set[str] = attrs.field(factory=set, init=False)
    """Messages a call is attempting inline: this process's dispatcher leaves them alone,
    so the call's answer is their outcome (a broadcast's rows past its concurrency)."""
    provider_media: ProviderMediaIds = attrs.field(factory=ProviderMediaIds, init=False)
    inbound_fetches: InboundFetches = attrs.field(factory=InboundFetches, init=False)
    """Inbound media waiting for the dispatcher (see ``service.inbound_media``)."""
    """The provider's ids for uploads of the media store (see ``service.mediaids``)."""
    key_changes: anyio.Lock = attrs.field(factory=anyio.Lock, init=False)
    """Held while a revocation checks that an admin key remains and revokes: two
    revocations at once cannot each leave the other as the last admin key."""

    def __attrs_post_init__(self) -> None:
        self.lookups = Lookups(
            store=self.store, clock=self.clock, ttl=lambda: self.policy.lookup_cache_ttl
        )

    def wake(self) -> None:
        """Tell the dispatcher there is work (a queued message, a retry, an ingest)."""
        self.wakeup.set()

    def workspace_of(self, scope: Scope) -> str:
        return scope.workspace_id or self.default_workspace

    def consent_rules(self, workspace: Workspace | None) -> ConsentRules:
        """A workspace's opt-out rules: its own (``Workspace.consent``), or the gateway's."""
        if workspace is not None and workspace.consent is not None:
            return workspace.consent
        policy = self.policy
        cached = self._gateway_rules
        if cached is None or cached[0] is not policy:  # built once per policy
            rules = ConsentRules(
                opt_out_keywords=policy.opt_out_keywords,
                opt_in_keywords=policy.opt_in_keywords,
                blocked=policy.opt_out_blocked,
                reply=policy.opt_out_reply,
            )
            cached = self._gateway_rules = (policy, rules)
        return cached[1]

    def inline(self, attempt: bool | None) -> bool:
        """Whether a send or broadcast is attempted inside the call (else only stored)."""
        return self.policy.inline_attempt if attempt is None else attempt


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
    templates_changed: int = 0
    templates_unknown: int = 0
    """Template updates for a template the catalogue does not hold (made outside waport)."""
    senders_changed: int = 0


@attrs.frozen(kw_only=True)
class DispatchReport:
    attempted: int = 0
    expired: int = 0
    recovered: int = 0
    unknown_outcomes: int = 0
    events: int = 0
