"""What the one process a SQLite file serves knows of it without asking it again.

SQLite serves one gateway process (``docs/operations.md``), and every write of that
process goes through its one writer. So the store can remember a few committed facts
that every send would otherwise read back:

* **customer-service windows**: the latest inbound (and template) time per workspace,
  contact and sender. A send checks its window before it is accepted; on a WAL
  database a read after another connection's commit starts from a cold page cache, so
  that one read cost about as much as the two writes of the send together. Entries are
  filled by reads and by the writer's own upserts (their ``RETURNING`` value, once the
  transaction that wrote it has committed), so an entry is always the committed value;
* **whether the status stash is empty**: statuses that arrive before their send's
  provider id is recorded wait in ``status_stash``, and every finished send looks
  there. While the stash is known to be empty, that look is skipped;
* **the messages it wrote last**: a send's outcome is written to the row its
  acceptance (or its claim) wrote a moment before, and reading that row back cost a
  statement per send. Each insert and update of a row takes its entry out at once
  (so a later operation of the same batch never sees it), and puts the record back
  once its transaction has committed; purges and erasures forget them all.

If the writer sees that another connection committed to the file (``PRAGMA
data_version``: say ``waport send`` or ``waport keys create`` in another process),
everything here is forgotten: checked before every batch, and before a window is
answered from here while no batch is under way.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from waport.domain.records import MessageRecord

WINDOW_KINDS: Final = ("inbound", "template")
_UNKNOWN: Final = -1  # a slot not read yet (``None``: read, and there is no such row)

WindowKey = tuple[str, str, str]  # workspace id, contact, sender id


class Known:
    """Committed facts of one database, for the process that writes it."""

    __slots__ = ("_messages", "_windows", "limit", "messages_limit", "stash_empty")

    def __init__(self, *, limit: int = 16_384, messages_limit: int = 4096) -> None:
        self.limit = limit
        self.messages_limit = messages_limit
        self._windows: dict[WindowKey, list[int | None]] = {}
        # oldest first; an OrderedDict drops its oldest entry in constant time, where a
        # dict's first entry is found by skipping every entry deleted before it
        self._messages: OrderedDict[str, MessageRecord] = OrderedDict()
        # False until the writer has looked; any operation that stashes a status sets
        # it back to False at once, so later operations of the same batch look too
        self.stash_empty = False

    def forget(self) -> None:
        self._windows.clear()
        self._messages.clear()
        self.stash_empty = False

    # ------------------------------------------------------------------ messages

    def message(self, message_id: str) -> MessageRecord | None:
        """The row of ``message_id`` as this process last committed it, if kept."""
        return self._messages.get(message_id)

    def message_writing(self, message_id: str) -> None:
        """A write of ``message_id`` is under way: its entry is no longer the row."""
        self._messages.pop(message_id, None)

    def message_written(self, record: MessageRecord) -> None:
        """``record`` is its row, committed (the oldest entry goes past the limit)."""
        messages = self._messages
        messages[record.id] = record
        messages.move_to_end(record.id)
        if len(messages) > self.messages_limit:
            messages.popitem(last=False)

    def forget_messages(self) -> None:
        self._messages.clear()

    # ------------------------------------------------------------------ windows

    def window(self, key: WindowKey, kinds: tuple[str, ...]) -> tuple[bool, int | None]:
        """``(known, latest)``: the latest time (µs) among ``kinds``, if known."""
        slots = self._windows.get(key)
        if slots is None:
            return False, None
        latest: int | None = None
        for kind in kinds:
            value = slots[WINDOW_KINDS.index(kind)]
            if value == _UNKNOWN:
                return False, None
            if value is not None and (latest is None or value > latest):
                latest = value
        return True, latest

    def windows_read(self, key: WindowKey, found: dict[str, int]) -> None:
        """Every kind's committed time for ``key``, as just read (absent: no row)."""
        slots = self._windows.get(key)
        if slots is None:
            if found:  # a contact with no window yet (a template to a new number) is not kept
                self._add(key, [found.get(kind) for kind in WINDOW_KINDS])
            return
        for index, kind in enumerate(WINDOW_KINDS):  # a committed write may have come first
            value = found.get(kind)
            if slots[index] == _UNKNOWN or (value is not None and value > (slots[index] or 0)):
                slots[index] = value

    def window_written(self, key: WindowKey, kind: str, last_us: int) -> None:
        """``last_us`` is committed for ``key`` and ``kind`` (the upsert's own answer).
        A template's window starts no entry: sends check the inbound window first, and
        a campaign to new numbers would otherwise fill the memory with entries no send
        reads."""
        slots = self._windows.get(key)
        if slots is None:
            if kind != WINDOW_KINDS[0]:
                return
            slots = [_UNKNOWN] * len(WINDOW_KINDS)
            self._add(key, slots)
        index = WINDOW_KINDS.index(kind)
        current = slots[index]
        if current is None or current == _UNKNOWN or last_us > current:
            slots[index] = last_us

    def _add(self, key: WindowKey, slots: list[int | None]) -> None:
        if len(self._windows) >= self.limit:  # the older half goes, oldest first
            keep = list(self._windows.items())[len(self._windows) // 2 :]
            self._windows = dict(keep)
        self._windows[key] = slots
