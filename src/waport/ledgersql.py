"""The ledger in SQL, shared by the SQLite and PostgreSQL stores: the statements and
their arguments. What an entry is, and when one is owed, is ``waport.domain.ledger``'s.

A balance moves only with an entry, in one transaction: ``move`` (which refuses to go
below zero for a debit, and touches no unlimited workspace), then ``insert``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from waport import codec
from waport.domain import ledger
from waport.domain.ledger import LedgerEntry
from waport.domain.records import MessageRecord
from waport.domain.status import StatusChange
from waport.sqlkit import numbered
from waport.storekit import to_us

KEEP_BALANCE = (
    "balance = CASE WHEN (excluded.balance IS NULL) = (workspaces.balance IS NULL)"
    " THEN workspaces.balance ELSE excluded.balance END"
)
"""How a workspace's upsert treats its balance: kept (the ledger's), unless the billing
mode changes (unlimited to prepaid, or back)."""


@attrs.frozen
class LedgerStatements:
    insert: str = (
        "INSERT INTO ledger (id, workspace_id, at_us, amount, doc) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO NOTHING"
    )
    move: str = (
        "UPDATE workspaces SET balance = balance + ? WHERE id = ? AND balance IS NOT NULL"
        " AND (balance + ? >= 0 OR ? >= 0) RETURNING balance"
    )
    balance: str = "SELECT balance FROM workspaces WHERE id = ?"
    entry: str = "SELECT doc FROM ledger WHERE id = ?"
    first_page: str = (
        "SELECT doc FROM ledger WHERE workspace_id = ? ORDER BY at_us DESC, id DESC LIMIT ?"
    )
    next_page: str = (
        "SELECT doc FROM ledger WHERE workspace_id = ? AND (at_us < ? OR (at_us = ? AND id < ?))"
        " ORDER BY at_us DESC, id DESC LIMIT ?"
    )

    @classmethod
    def for_sqlite(cls) -> LedgerStatements:
        return cls()

    @classmethod
    def for_postgres(cls) -> LedgerStatements:
        return cls._build(numbered)

    @classmethod
    def _build(cls, dialect: Callable[[str], str]) -> LedgerStatements:
        plain = cls()
        return cls(**{a.name: dialect(getattr(plain, a.name)) for a in attrs.fields(cls)})


def insert_args(entry: LedgerEntry) -> tuple[Any, ...]:
    return (entry.id, entry.workspace_id, to_us(entry.at), entry.amount, codec.dumps(entry))


def move_args(workspace_id: str, amount: int) -> tuple[Any, ...]:
    return (amount, workspace_id, amount, amount)


def page_args(
    workspace_id: str, after: tuple[int, str] | None, limit: int
) -> tuple[bool, tuple[Any, ...]]:
    """Whether the page follows a cursor (``next_page``) and the statement's values."""
    if after is None:
        return False, (workspace_id, limit)
    at_us, entry_id = after
    return True, (workspace_id, at_us, at_us, entry_id, limit)


def owed_refunds(
    record: MessageRecord, changes: Sequence[StatusChange]
) -> list[tuple[str, StatusChange]]:
    """The debits ``changes`` of ``record`` refund (the debit's id and the change)."""
    return [
        (ledger.debit_id(record.id), change)
        for change in changes
        if change.status in ledger.REFUNDABLE and ledger.refund_owed(record, change)
    ]


def refund_of(debit_doc: str, change: StatusChange) -> LedgerEntry:
    reason = f"message {change.status.value}"
    if change.error is not None:
        reason += f": {change.error.code}"
    return ledger.refund(codec.loads(debit_doc, LedgerEntry), change.at, reason)
