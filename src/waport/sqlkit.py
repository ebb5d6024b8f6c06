"""The SQL the SQLite and PostgreSQL stores share: the ``messages`` row and the
statements over it, written once.

A message row is its indexed identity (written once), its hot columns (status, due
time, claim, attempts, provider id, last error: set by each change), its status
history (text that each change appends to) and its document (the rest of the record,
written once: ``codec.dumps_message_body``). So a status change updates a few columns
and appends one history entry; it never rewrites the document.

Statements are written with ``?`` placeholders; ``Statements.for_postgres()`` numbers
them (``$1``, ``$2`` ...) as asyncpg wants. Where the dialects differ (``MAX`` of two
values) the statement names the difference.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs

from waport import codec
from waport.domain.contacts import ContactQuery, spoken_with
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.lifecycle import PURGEABLE_SQL
from waport.domain.listing import ConversationQuery, MessageQuery, mode_of
from waport.domain.recipients import ERASED_PREFIX, GROUP_PREFIX
from waport.domain.records import MessageRecord, OutboxEvent
from waport.storekit import from_us, to_us

__all__ = [
    "INSERT_COLUMNS",
    "LOAD_COLUMNS",
    "RowCache",
    "Statements",
    "event_args",
    "insert_args",
    "numbered",
    "split_document",
    "stored_values",
    "update_args",
]

LOAD_COLUMNS: Final = (
    "status",
    "due_us",
    "attempting_us",
    "attempts",
    "provider",
    "provider_message_id",
    "error",
    "history",
    "doc",
)
"""What a message is read back from, in the order :class:`RowCache` takes."""

INSERT_COLUMNS: Final = (
    "id",
    "workspace_id",
    "sender_id",
    "contact",
    "direction",
    "created_us",
    "expires_us",
    "broadcast_id",
    "initiated",
    "mode",
    *LOAD_COLUMNS,
)
"""The columns of a new ``messages`` row, in the order of :func:`insert_args`: its
identity (written once), then what it is read back from."""

_LOADED_FROM: Final = len(INSERT_COLUMNS) - len(LOAD_COLUMNS)
UNSENT: Final = "('scheduled', 'pending')"
_SELECT: Final = f"SELECT {', '.join(LOAD_COLUMNS)} FROM messages"
CONVERSATION_INTO: Final = (
    "INSERT INTO conversations (workspace_id, contact, sender_id, last_us, last_message_id)"
)
CONVERSATION_LATEST: Final = (
    " ON CONFLICT (workspace_id, contact, sender_id) DO UPDATE"
    " SET last_us = excluded.last_us, last_message_id = excluded.last_message_id"
    " WHERE (excluded.last_us, excluded.last_message_id)"
    " > (conversations.last_us, conversations.last_message_id)"
)
"""A conversation row points at its latest message (``note_conversation``)."""
_MEDIA_REFERENCE: Final = re.compile(r'"media_id":"(med_[^"\\]+)"')


def media_ids_in(doc: str) -> set[str]:
    """The media-store ids a message's document refers to (``MediaStored.media_id``, as
    the codec writes it)."""
    return set(_MEDIA_REFERENCE.findall(doc))


def _hot(r: MessageRecord) -> tuple[Any, ...]:
    return (
        r.status.value,
        to_us(r.due_at),
        to_us(r.attempting_since),
        r.attempts,
        r.provider,
        r.provider_message_id,
        None if r.error is None else codec.dumps(r.error),
    )


def conversation_args(r: MessageRecord) -> tuple[Any, ...]:
    """The values of ``Statements.note_conversation`` for a new message."""
    return (r.workspace_id, str(r.contact), r.sender_id, to_us(r.created_at), r.id)


def insert_args(r: MessageRecord) -> tuple[Any, ...]:
    """The values of ``INSERT_COLUMNS`` for a new message."""
    return (
        r.id,
        r.workspace_id,
        r.sender_id,
        str(r.contact),
        r.direction.value,
        to_us(r.created_at),
        to_us(r.expires_at),
        r.broadcast_id,
        r.initiated,
        mode_of(r),
        *_hot(r),
        codec.dumps_history(r.history),
        codec.dumps_message_body(r),
    )


def update_args(before: MessageRecord, after: MessageRecord) -> tuple[Any, ...]:
    """The values of ``Statements.update_message`` for ``after``, a change of ``before``
    (as read): its hot columns, the history entries it appends, then the id."""
    known = len(before.history)
    if after.history[:known] != before.history:
        raise WaportError(ErrorCode.INTERNAL, f"the history of {after.id} was rewritten")
    return (*_hot(after), codec.dumps_history(after.history[known:]), after.id)


def split_document(doc: str) -> tuple[Any, ...]:
    """Migration: a document written whole (schema 3 and before) as the values of
    ``status, due_us, attempting_us, attempts, provider, provider_message_id, error,
    history, doc``."""
    return stored_values(codec.loads(doc, MessageRecord))


def stored_values(r: MessageRecord) -> tuple[Any, ...]:
    """``r`` as the values of ``LOAD_COLUMNS`` (a row written whole again)."""
    return (*_hot(r), codec.dumps_history(r.history), codec.dumps_message_body(r))


def event_args(event: OutboxEvent) -> tuple[Any, ...]:
    """The values of ``Statements.enqueue`` for an outbox event."""
    return (
        event.id,
        event.message_id,
        event.seq,
        event.state.value,
        to_us(event.due_at),
        event.url,
        to_us(event.created_at),
        codec.dumps(event),
    )


@attrs.define
class RowCache:
    """Messages decoded from their rows (``LOAD_COLUMNS``), keyed by the row itself, so
    a changed row is never answered with a stale record. A store tells it what it
    writes (``inserted``, ``updated``), so reading back its own writes decodes nothing.
    Owned by one store."""

    limit: int = 4096
    _decoded: OrderedDict[tuple[Any, ...], MessageRecord] = attrs.Factory(OrderedDict)
    _rows: dict[str, tuple[Any, ...]] = attrs.Factory(dict)
    """The latest row seen of each message in ``_decoded``."""

    def load(self, row: Sequence[Any]) -> MessageRecord:
        key = tuple(row)
        record = self._decoded.get(key)
        if record is None:
            status, due, attempting, attempts, provider, pid, error, history, doc = key
            record = codec.load_message(
                doc,
                status=status,
                history=history,
                provider=provider,
                provider_message_id=pid,
                due_at=None if due is None else from_us(due),
                attempting_since=None if attempting is None else from_us(attempting),
                attempts=attempts,
                error=error,
            )
            self._remember(key, record)
        return record

    def inserted(self, args: tuple[Any, ...], record: MessageRecord) -> None:
        """Remember a record just written with ``insert_args``."""
        self._remember(args[_LOADED_FROM:], record)

    def updated(self, args: tuple[Any, ...], record: MessageRecord) -> None:
        """Remember a record just written with ``update_args``."""
        row = self._rows.get(record.id)
        if row is not None:
            self._remember((*args[:7], row[7] + args[7], row[8]), record)

    def rewritten(self, record: MessageRecord) -> None:
        """Remember a record written whole again (``stored_values``), forgetting the
        record its old row held."""
        old = self._rows.get(record.id)
        if old is not None:
            self._decoded.pop(old, None)
        self._remember(stored_values(record), record)

    def _remember(self, key: tuple[Any, ...], record: MessageRecord) -> None:
        self._decoded[key] = record
        self._rows[record.id] = key
        if len(self._decoded) > self.limit:
            old_key, old = self._decoded.popitem(last=False)
            if self._rows.get(old.id) == old_key:
                del self._rows[old.id]


def postgres(sql: str) -> str:
    """A statement written for both stores (``?``, ``{greatest}``, ``{true}``) in
    PostgreSQL's dialect."""
    return numbered(sql.replace("{greatest}", "GREATEST").replace("{true}", "TRUE"))


def numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1``, ``$2``, ..."""
    count = iter(range(1, 1000))
    return re.sub(r"\?", lambda _: f"${next(count)}", sql)


@attrs.frozen
class Statements:
    """Every statement on ``messages``, ``windows``, ``status_stash`` and ``outbox`` that
    both stores run, in one dialect."""

    insert_message: str = (
        f"INSERT INTO messages ({', '.join(INSERT_COLUMNS)})"
        f" VALUES ({', '.join('?' for _ in INSERT_COLUMNS)})"
        " ON CONFLICT DO NOTHING"  # no RETURNING: the row count says (10 µs less in SQLite)
    )
    update_message: str = (
        "UPDATE messages SET status = ?, due_us = ?, attempting_us = ?, attempts = ?,"
        " provider = ?, provider_message_id = ?, error = ?, history = history || ?"
        " WHERE id = ?"
    )
    get_message: str = f"{_SELECT} WHERE id = ?"
    by_provider_any: str = (
        f"{_SELECT} WHERE provider = ? AND provider_message_id = ? ORDER BY direction DESC LIMIT 1"
    )
    by_provider: str = f"{_SELECT} WHERE provider = ? AND provider_message_id = ? AND direction = ?"
    by_broadcast: str = f"{_SELECT} WHERE broadcast_id = ? ORDER BY created_us, id"
    claimable: str = f"{_SELECT} WHERE id = ? AND status IN {UNSENT} AND attempting_us IS NULL"
    due: str = (
        f"{_SELECT} WHERE id IN ("
        f" SELECT id FROM messages WHERE status IN {UNSENT} AND attempting_us IS NULL"
        "  AND direction = 'outbound' AND due_us <= ?"
        " UNION"
        f" SELECT id FROM messages WHERE status IN {UNSENT} AND attempting_us IS NULL"
        "  AND expires_us IS NOT NULL AND expires_us <= ?"
        ") ORDER BY due_us, id LIMIT ?"
    )
    inbound_since: str = (
        f"{_SELECT} WHERE created_us >= ? AND direction = 'inbound'"
        " ORDER BY created_us DESC, id DESC LIMIT ?"
    )
    in_flight: str = (
        f"{_SELECT} WHERE attempting_us IS NOT NULL AND attempting_us < ?"
        " ORDER BY attempting_us, id LIMIT ?"
    )
    purgeable: str = (
        f"SELECT id, workspace_id, contact FROM messages m WHERE {PURGEABLE_SQL.format(before='?')}"
        " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.id AND o.state = 'pending')"
        " ORDER BY created_us LIMIT ?"
    )
    counts: str = "SELECT status, COUNT(*) FROM messages GROUP BY status"
    unsent_with_media: str = (
        f"SELECT doc FROM messages WHERE status IN {UNSENT} AND direction = 'outbound'"
        """ AND doc LIKE '%"media_id":"med%'"""
    )
    note_window: str = (
        "INSERT INTO windows (workspace_id, contact, sender_id, kind, last_us) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (workspace_id, contact, sender_id, kind)"
        " DO UPDATE SET last_us = {greatest}(windows.last_us, excluded.last_us) RETURNING last_us"
    )
    stash: str = (
        "INSERT INTO status_stash (provider, provider_message_id, status, doc) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING"
    )
    take_stash: str = (
        "DELETE FROM status_stash WHERE provider = ? AND provider_message_id = ? RETURNING doc"
    )
    enqueue: str = (
        "INSERT INTO outbox (id, message_id, seq, state, due_us, leased_us, attempts, last_error,"
        " url, created_us, doc) VALUES (?, ?, ?, ?, ?, NULL, 0, NULL, ?, ?, ?)"
        " ON CONFLICT (id) DO NOTHING"
    )

    leaves_window: str = (
        "SELECT MAX(created_us) AS last FROM messages WHERE initiated = {true}"
        " AND workspace_id = ? AND created_us > ? GROUP BY contact ORDER BY last LIMIT 1 OFFSET ?"
    )
    split_batch: str = "SELECT id, doc FROM messages WHERE id > ? ORDER BY id LIMIT 500"
    fill_mode: str = "UPDATE messages SET mode = ? WHERE id = ?"
    note_conversation: str = f"{CONVERSATION_INTO} VALUES (?, ?, ?, ?, ?){CONVERSATION_LATEST}"
    forget_conversations: str = (
        "DELETE FROM conversations WHERE workspace_id = ? AND contact = ? AND NOT EXISTS"
        " (SELECT 1 FROM messages m WHERE m.id = conversations.last_message_id)"
    )
    refill_conversations: str = (
        "INSERT INTO conversations (workspace_id, contact, sender_id, last_us, last_message_id)"
        " SELECT m.workspace_id, m.contact, m.sender_id, m.created_us, m.id FROM messages m"
        " WHERE m.workspace_id = ? AND m.contact = ? AND NOT EXISTS (SELECT 1 FROM messages n"
        "  WHERE n.workspace_id = m.workspace_id AND n.contact = m.contact"
        "  AND n.sender_id = m.sender_id AND (n.created_us, n.id) > (m.created_us, m.id))"
        " ON CONFLICT (workspace_id, contact, sender_id) DO NOTHING"
    )
    contact_span: str = (
        "SELECT MIN(created_us), MAX(created_us) FROM messages"
        " WHERE workspace_id = ? AND contact = ?"
    )
    split_row: str = (
        "UPDATE messages SET status = ?, due_us = ?, attempting_us = ?, attempts = ?,"
        " provider = ?, provider_message_id = ?, error = ?, history = ?, doc = ? WHERE id = ?"
    )

    @classmethod
    def for_sqlite(cls) -> Statements:
        return cls._build(lambda sql: sql.replace("{greatest}", "MAX").replace("{true}", "1"))

    @classmethod
    def for_postgres(cls) -> Statements:
        return cls._build(postgres)

    @classmethod
    def _build(cls, dialect: Callable[[str], str]) -> Statements:
        plain = cls()
        return cls(**{a.name: dialect(getattr(plain, a.name)) for a in attrs.fields(cls)})


def page_query(query: MessageQuery, *, postgres: bool = False) -> tuple[str, list[Any]]:
    """One page of ``GET /v1/messages`` as SQL and its arguments: newest first, strictly
    after the cursor, one row more than the page (to tell whether another follows)."""
    where: list[str] = ["workspace_id = ?"]
    args: list[Any] = [query.workspace_id]

    def when(condition: str, *values: Any) -> None:
        where.append(condition)
        args.extend(values)

    if query.senders is not None:
        allowed = sorted(query.senders) or [""]
        when(f"sender_id IN ({', '.join('?' for _ in allowed)})", *allowed)
    for column, value in (
        ("contact", None if query.contact is None else str(query.contact)),
        ("sender_id", query.sender_id),
        ("direction", query.direction),
        ("status", None if query.status is None else query.status.value),
        ("mode", query.mode),
        ("broadcast_id", query.broadcast_id),
    ):
        if value is not None:
            when(f"{column} = ?", value)
    if query.since is not None:
        when("created_us >= ?", to_us(query.since))
    if query.until is not None:
        when("created_us < ?", to_us(query.until))
    if query.after is not None:
        cursor = query.after
        when(
            "(created_us < ? OR (created_us = ? AND id < ?))",
            *[cursor.created_us] * 2,
            cursor.message_id,
        )
    sql = f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY created_us DESC, id DESC LIMIT ?"
    args.append(query.limit + 1)
    return (numbered(sql) if postgres else sql), args


def mode_of_document(doc: str) -> str:
    """Migration: the mode of a message from its document (written after hot columns)."""
    record = codec.load_message(
        doc,
        status="pending",
        history="",
        provider=None,
        provider_message_id=None,
        due_at=None,
        attempting_since=None,
        attempts=0,
        error=None,
    )
    return mode_of(record)


@attrs.define
class Placeholders:
    """Arguments of a statement built piece by piece: each value given is kept, and its
    placeholder (``?``, or ``$n`` for PostgreSQL) returned to write in its place."""

    postgres: bool = False
    values: list[Any] = attrs.Factory(list)

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}" if self.postgres else "?"


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def contact_page_query(query: ContactQuery, *, postgres: bool = False) -> tuple[str, list[Any]]:
    """One page of ``GET /v1/contacts`` (``contacts.matches`` as SQL): by number, after
    the cursor, one row more than the page."""
    arg = Placeholders(postgres=postgres)

    where = [f"workspace_id = {arg(query.workspace_id)}"]
    if query.opted_out is not None:
        where.append(f"opted_out = {arg(query.opted_out if postgres else int(query.opted_out))}")
    if query.label is not None:
        label = arg(query.label)
        where.append(
            f"(doc::jsonb -> 'labels') ? {label}"
            if postgres
            else f"EXISTS (SELECT 1 FROM json_each(contacts.doc, '$.labels') WHERE value = {label})"
        )
    if query.prefix is not None:
        name = "doc::jsonb ->> 'name'" if postgres else "json_extract(doc, '$.name')"
        prefix = _like_prefix(query.prefix)
        where.append(
            f"(recipient LIKE {arg(prefix)} ESCAPE '\\'"
            f" OR lower({name}) LIKE lower({arg(prefix)}) ESCAPE '\\')"
        )
    if query.after is not None:
        where.append(f"recipient > {arg(query.after)}")
    sql = f"SELECT recipient, doc, NULL AS last_us FROM contacts WHERE {' AND '.join(where)}"
    if spoken_with(query):  # and the numbers there are messages with, one row each
        chats = [
            f"c.workspace_id = {arg(query.workspace_id)}",
            "c.contact NOT LIKE '%@%'",  # groups and channels are not contacts
            f"c.contact NOT LIKE '{GROUP_PREFIX}%'",
            f"c.contact NOT LIKE '{ERASED_PREFIX}%'",
            "NOT EXISTS (SELECT 1 FROM contacts k"
            " WHERE k.workspace_id = c.workspace_id AND k.recipient = c.contact)",
        ]
        if query.prefix is not None:
            chats.append(f"c.contact LIKE {arg(_like_prefix(query.prefix))} ESCAPE '\\'")
        if query.after is not None:
            chats.append(f"c.contact > {arg(query.after)}")
        sql += (
            " UNION ALL SELECT c.contact, NULL, MAX(c.last_us) FROM conversations c"
            f" WHERE {' AND '.join(chats)} GROUP BY c.contact"
        )
    return f"{sql} ORDER BY 1 LIMIT {arg(query.limit + 1)}", arg.values


_READ_STATUSES: Final = "('read', 'played')"
_SAME_CHAT: Final = (
    "{t}.workspace_id = c.workspace_id AND {t}.contact = c.contact"
    " AND {t}.sender_id = c.sender_id AND {t}.direction = 'inbound'"
)
_UNREAD: Final = (
    f"(SELECT COUNT(*) FROM messages u WHERE {_SAME_CHAT.format(t='u')}"
    " AND u.created_us > COALESCE((SELECT MAX(r.created_us) FROM messages r"
    f"  WHERE {_SAME_CHAT.format(t='r')} AND r.status IN {_READ_STATUSES}), -1))"
)


def conversation_page_query(
    query: ConversationQuery, *, postgres: bool = False
) -> tuple[str, list[Any]]:
    """One page of ``GET /v1/conversations``: by latest activity, newest first, with each
    row's latest message and unread count; one row more than the page."""
    arg = Placeholders(postgres=postgres)

    where = [f"c.workspace_id = {arg(query.workspace_id)}"]
    if query.senders is not None:
        allowed = sorted(query.senders) or [""]
        where.append(f"c.sender_id IN ({', '.join(arg(s) for s in allowed)})")
    if query.sender_id is not None:
        where.append(f"c.sender_id = {arg(query.sender_id)}")
    if query.after is not None:
        after = query.after
        where.append(
            f"(c.last_us, c.contact, c.sender_id) < ({arg(after.last_us)},"
            f" {arg(after.contact)}, {arg(after.sender_id)})"
        )
    loaded = ", ".join(f"m.{column}" for column in LOAD_COLUMNS)
    sql = (
        f"SELECT c.contact, c.sender_id, {_UNREAD} AS unread, {loaded}"
        " FROM conversations c JOIN messages m ON m.id = c.last_message_id"
        f" WHERE {' AND '.join(where)}"
        f" ORDER BY c.last_us DESC, c.contact DESC, c.sender_id DESC LIMIT {arg(query.limit + 1)}"
    )
    return sql, arg.values
