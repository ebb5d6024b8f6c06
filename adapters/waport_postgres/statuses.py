"""A batch of status patches on PostgreSQL in a few statements, whatever its size.

Written one patch at a time, a batch of 100 webhook statuses cost about 300 round trips
(a provider-id lock, the row, its update) in its transaction. Here the batch takes all
its provider-id locks in one statement and its rows, locked, in one or two; the
domain decides each patch in order (``lifecycle.decide_patch``) against the rows as
the earlier patches left them; and what it decided is written with one pipelined
``executemany`` per statement: the stashes, then what ``rows.Writes`` writes (the rows,
several patches of one message becoming one update of it, the template windows, the
outbox events and the refunds), as a batch of sends' outcomes is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import attrs

from waport import codec, sqlkit, storekit
from waport.domain.lifecycle import PatchAction
from waport.domain.records import Direction, MessageRecord
from waport.ports import StatusPatch, StatusResult
from waport_postgres.group import lock_keys
from waport_postgres.rows import SQL, Conn, Writes, _Docs, _lock_key

_LOAD: Final = ", ".join(sqlkit.LOAD_COLUMNS)
BY_IDS: Final = f"SELECT {_LOAD} FROM messages WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE"
BY_KEYS: Final = (
    f"SELECT {_LOAD} FROM messages WHERE direction = 'outbound'"
    " AND (provider, provider_message_id) IN"
    " (SELECT p, m FROM unnest($1::text[], $2::text[]) AS u(p, m)) ORDER BY id FOR UPDATE"
)
"""Outbound rows by provider id, locked in id order (``FOR UPDATE`` locks as it sorts)."""


@attrs.define
class _Rows:
    """The batch's messages as the patches decided so far leave them."""

    by_id: dict[str, MessageRecord] = attrs.Factory(dict)
    by_key: dict[tuple[str, str], str] = attrs.Factory(dict)

    def add(self, record: MessageRecord) -> None:
        self.by_id[record.id] = record
        pid = record.provider_message_id
        if record.direction is Direction.OUTBOUND and record.provider and pid:
            self.by_key[(record.provider, pid)] = record.id

    def find(self, patch: StatusPatch) -> MessageRecord | None:
        """The message a patch names: by our id, else an outbound one by the provider's."""
        record = self.by_id.get(patch.message_id) if patch.message_id else None
        key = patch.provider_key
        if record is None and key is not None and (found := self.by_key.get(key)) is not None:
            record = self.by_id[found]
        return record


async def apply(c: Conn, docs: _Docs, patches: Sequence[StatusPatch]) -> list[StatusResult]:
    """``Messages.apply_statuses`` in the open transaction ``c``: one result per patch,
    in the patches' order; the patches are decided in the order of their provider ids."""
    keys = {key for patch in patches if (key := patch.provider_key) is not None}
    await lock_keys(c, [_lock_key(*key) for key in keys])
    rows = _Rows()
    ids = sorted({patch.message_id for patch in patches if patch.message_id})
    for row in await c.fetch(BY_IDS, ids) if ids else []:
        rows.add(docs.load(row))
    wanted = sorted(
        {key for patch in patches if (key := patch.provider_key) and rows.find(patch) is None}
    )
    if wanted:
        found = await c.fetch(BY_KEYS, [p for p, _ in wanted], [m for _, m in wanted])
        for row in found:
            rows.add(docs.load(row))
    order = sorted(
        range(len(patches)),
        key=lambda i: (
            patches[i].provider or "",
            patches[i].provider_message_id or "",
            patches[i].message_id or "",
        ),
    )
    writes = Writes()
    stashes: list[tuple[Any, ...]] = []
    results: list[StatusResult | None] = [None] * len(patches)
    for i in order:
        patch = patches[i]
        record = rows.find(patch)
        decision = storekit.decide_patch(record, patch)
        key = patch.provider_key
        if decision.action is PatchAction.STASH and key is not None:
            stashes.append((*key, patch.change.status.value, codec.dumps(patch.change)))
        elif (
            decision.action is PatchAction.WRITE
            and decision.record is not None
            and record is not None
        ):
            writes.write(record, decision.record, decision.changes)
            rows.add(decision.record)
        results[i] = decision.result
    if stashes:
        await c.executemany(SQL.stash, stashes)
    await writes.run(c, docs)
    return [r for r in results if r is not None]
