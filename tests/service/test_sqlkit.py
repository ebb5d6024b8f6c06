"""The message row the SQL stores share (``waport.sqlkit``), run on a real SQLite
database: what is written reads back as the same record, a change writes only the hot
columns and the history it appends, and documents written whole before still split."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.service.test_codec import _records
from waport import codec, sqlkit
from waport.domain.errors import ErrorCode, WaportError
from waport.domain.records import MessageRecord
from waport.domain.status import ErrorDetail, StatusChange
from waport.testing import strategies
from waport_sqlite.engine import migrate

SQL = sqlkit.Statements.for_sqlite()


def _database() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn)
    return conn


def _read(conn: sqlite3.Connection, message_id: str) -> MessageRecord:
    row = conn.execute(SQL.get_message, (message_id,)).fetchone()
    return sqlkit.RowCache().load(row)  # a cache of its own: decoded from the row


changes = st.lists(
    st.builds(StatusChange, status=strategies.statuses(), at=strategies.aware_datetimes()),
    max_size=3,
).map(tuple)
hot = st.fixed_dictionaries(
    {
        "status": strategies.statuses(),
        "provider": st.none() | strategies.ids(),
        "provider_message_id": st.none() | strategies.ids(),
        "due_at": st.none() | strategies.aware_datetimes(),
        "attempting_since": st.none() | strategies.aware_datetimes(),
        "attempts": st.integers(0, 9),
        "error": st.none()
        | st.builds(ErrorDetail, code=st.sampled_from(list(ErrorCode)), message=strategies.words()),
    }
)


@given(_records(), st.lists(st.tuples(changes, hot), max_size=3))
def test_a_message_reads_back_as_written_after_any_changes(
    record: MessageRecord, steps: list[tuple[tuple[StatusChange, ...], dict[str, object]]]
) -> None:
    with closing(_database()) as conn:
        cache = sqlkit.RowCache()
        assert conn.execute(SQL.insert_message, sqlkit.insert_args(record)).rowcount == 1
        cache.inserted(sqlkit.insert_args(record), record)
        assert _read(conn, record.id) == record
        doc = conn.execute("SELECT doc FROM messages").fetchone()[0]
        for appended, fields in steps:
            after = attrs.evolve(record, history=record.history + appended, **fields)
            args = sqlkit.update_args(record, after)
            conn.execute(SQL.update_message, args)
            cache.updated(args, after)
            record = after
            assert _read(conn, record.id) == record
            # the cache's idea of the row is the row
            row = conn.execute(SQL.get_message, (record.id,)).fetchone()
            assert cache.load(row) is record
        # the document was written once
        assert conn.execute("SELECT doc FROM messages").fetchone()[0] == doc
        # a second insert of the same id is refused, not an error
        assert conn.execute(SQL.insert_message, sqlkit.insert_args(record)).rowcount == 0


@given(_records())
def test_a_document_written_whole_splits_into_the_same_record(record: MessageRecord) -> None:
    with closing(_database()) as conn:
        conn.execute(SQL.insert_message, sqlkit.insert_args(record))
        conn.execute(SQL.split_row, (*sqlkit.split_document(codec.dumps(record)), record.id))
        assert _read(conn, record.id) == record


@given(_records().filter(lambda r: len(r.history) > 0))
def test_a_change_that_rewrites_the_history_is_refused(record: MessageRecord) -> None:
    """Histories only grow: a change that drops an entry would be lost by appending."""
    with pytest.raises(WaportError):
        sqlkit.update_args(record, attrs.evolve(record, history=record.history[1:]))


def test_both_dialects_hold_the_same_statements() -> None:
    lite, pg = sqlkit.Statements.for_sqlite(), sqlkit.Statements.for_postgres()
    for name in attrs.fields_dict(sqlkit.Statements):
        a, b = getattr(lite, name), getattr(pg, name)
        assert "$" not in a
        assert "?" not in b
        assert a.count("?") == b.count("$")
    assert "MAX(" in lite.note_window
    assert "GREATEST(" in pg.note_window
