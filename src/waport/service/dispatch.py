"""The dispatcher: provider events, crash recovery, expiry and due sends, and the
housekeeping (expired idempotency records, idle rate buckets, retention).

Loops are thin, decisions are pure: ``dispatch_once`` is the loop body tests call
with a fake clock; what a stale claim becomes is ``lifecycle.recover``'s answer.
"""

from __future__ import annotations

import logging

import anyio
from anyio.abc import TaskStatus

from waport.domain import lifecycle, sender_health
from waport.domain.errors import WaportError
from waport.domain.lifecycle import Release
from waport.domain.schedule import is_expired
from waport.domain.status import UNSENT
from waport.service import inbound_media, media
from waport.service.attempt import attempt
from waport.service.core import Core, DispatchReport
from waport.service.ingest import ingest

log = logging.getLogger("waport.service")


async def dispatch_once(core: Core) -> DispatchReport:
    """One pass: provider events, crash recovery, expiry, due sends."""
    now = core.clock.now()
    policy = core.policy
    source = core.provider.events
    events = await source.poll_events(now) if source is not None else ()
    if events:
        await ingest(core, events)
    recovered = unknown = 0
    recovery = lifecycle.Recovery(
        lease=policy.attempt_lease,
        outcome_window=policy.outcome_window,
        dedupes=core.provider.capabilities.client_message_ids,
        provider=core.provider.name,
    )
    messages = core.store.messages
    for record in await messages.in_flight(
        started_before=now - policy.attempt_lease, limit=policy.dispatch_batch
    ):
        outcome = lifecycle.recover(record, now, recovery)
        if outcome is None:
            continue
        await messages.finish(record.id, outcome)
        if isinstance(outcome, Release):
            recovered += 1
        else:
            unknown += 1
    due = await messages.due(now, limit=policy.dispatch_batch)
    attempted = expired = 0
    limiter = anyio.CapacityLimiter(policy.broadcast_concurrency)

    down: dict[str, WaportError] = {}
    for sender_id in {r.sender_id for r in due}:  # one read per sender and pass
        sender = await core.lookups.find_sender(sender_id)
        refused = sender_health.refusal(sender) if sender is not None else None
        if refused is not None:
            down[sender_id] = refused

    async def attempt_one(record_id: str, unavailable: WaportError | None) -> None:
        async with limiter:
            await attempt(core, record_id, unavailable=unavailable)

    async with anyio.create_task_group() as tg:
        fetches = core.inbound_fetches
        if fetches.waiting() and not fetches.background:  # no fetcher task: fetch here
            tg.start_soon(inbound_media.fetch_due, core)
        for record in due:
            if record.status not in UNSENT or record.id in core.reserved:
                continue
            if is_expired(record.expires_at, now):
                expired += 1
            else:
                attempted += 1
            tg.start_soon(attempt_one, record.id, down.get(record.sender_id))
    return DispatchReport(
        attempted=attempted,
        expired=expired,
        recovered=recovered,
        unknown_outcomes=unknown,
        events=len(events),
    )


async def housekeeping(core: Core) -> int:
    """Purge expired idempotency records and idle rate buckets, and apply the retention
    policy. Returns how many messages retention deleted."""
    now = core.clock.now()
    store = core.store
    await store.idempotency.purge(now)
    await store.rate_limits.purge(now)  # a bucket whose TAT has passed is full again
    await media.purge(core, now)
    purged = 0
    retention = core.policy.retention
    if retention is not None:
        batch = core.policy.retention_batch
        while True:
            gone = await store.messages.purge_before(now - retention, limit=batch)
            purged += gone
            if gone < batch:
                break
    return purged


async def run_dispatcher(
    core: Core, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """``dispatch_once`` then sleep until woken or the interval passes; housekeeping
    every ``housekeeping_interval``."""
    async with anyio.create_task_group() as tg:
        # contacts' media in a task of its own: a large download never delays a send
        tg.start_soon(inbound_media.run_fetcher, core)
        task_status.started()
        await _dispatch_forever(core)


async def _dispatch_forever(core: Core) -> None:
    policy = core.policy
    housekeeping_at = core.clock.now() + policy.housekeeping_interval
    while True:
        try:
            report = await dispatch_once(core)
            if core.clock.now() >= housekeeping_at:
                await housekeeping(core)
                housekeeping_at = core.clock.now() + policy.housekeeping_interval
        except Exception:
            log.exception("dispatcher pass failed")
            report = DispatchReport()
        if report.attempted >= policy.dispatch_batch:
            continue
        with anyio.move_on_after(policy.dispatch_interval):
            await core.wakeup.wait()
        core.wakeup = anyio.Event()
